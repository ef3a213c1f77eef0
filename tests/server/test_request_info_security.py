"""Request info as kube-apiserver derives it for authorization, where a wrong reading would grant.

* The deprecated ``/watch/`` path verb carries no selectors into authorization, so a node cannot
  pass the Node authorizer's ``spec.nodeName`` check through it.
* A list whose options kube cannot decode is authorized without the name a
  ``metadata.name`` field selector would give it, so ``resourceNames`` grants do not apply.
"""

from __future__ import annotations

from typing import Any

import pytest

from ._raw import request

NODE = "system:node:node-a"
POD_WATCH_DENIED = (
    f'pods is forbidden: User "{NODE}" cannot watch resource "pods" in API group "" at the '
    "cluster scope: node: can only list/watch pods with spec.nodeName field selector"
)


@pytest.fixture
def node_token(apiserver: Any) -> str:
    apiserver.apply(
        """
apiVersion: v1
kind: Node
metadata: {name: node-a}
"""
    )
    return str(apiserver.add_user(NODE, groups=["system:nodes"]))


def test_node_watches_its_pods_with_the_selector_in_the_query(
    apiserver: Any, node_token: str
) -> None:
    status, data, _ = request(
        apiserver,
        "GET",
        "/api/v1/pods?watch=true&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a",
        token=node_token,
    )
    assert status == 200, data


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/watch/pods?timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a",
        "/api/v1/watch/namespaces/default/pods?timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a",
    ],
)
def test_watch_path_verb_carries_no_selector_for_authorization(
    apiserver: Any, node_token: str, path: str
) -> None:
    status, data, _ = request(apiserver, "GET", path, token=node_token)
    assert status == 403, data
    assert data["reason"] == "Forbidden"
    expected = POD_WATCH_DENIED
    if "/namespaces/default/" in path:
        expected = expected.replace("at the cluster scope", 'in the namespace "default"')
    assert data["message"] == expected


@pytest.fixture
def one_configmap_reader(apiserver: Any) -> str:
    apiserver.apply(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {a: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: settings-reader, namespace: default}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: settings-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: settings-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: reader}
"""
    )
    return str(apiserver.add_user("reader"))


def test_list_named_by_field_selector_uses_the_name_grant(
    apiserver: Any, one_configmap_reader: str
) -> None:
    status, data, _ = request(
        apiserver,
        "GET",
        "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dsettings",
        token=one_configmap_reader,
    )
    assert status == 200, data
    assert [i["metadata"]["name"] for i in data["items"]] == ["settings"]


@pytest.mark.parametrize(
    "bad_option",
    [
        "limit=ten",
        "limit=1_0",
        "timeoutSeconds=%201",
        "labelSelector=a%20in",
        "limit=9223372036854775808",
    ],
)
def test_list_with_undecodable_options_is_authorized_without_the_name(
    apiserver: Any, one_configmap_reader: str, bad_option: str
) -> None:
    status, data, _ = request(
        apiserver,
        "GET",
        f"/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dsettings&{bad_option}",
        token=one_configmap_reader,
    )
    assert status == 403, data
    assert data["reason"] == "Forbidden"
    assert data["message"] == (
        'configmaps is forbidden: User "reader" cannot list resource "configmaps" in API group "" '
        'in the namespace "default"'
    )


@pytest.mark.parametrize(
    ("option", "why"),
    [
        ("limit=1_0", "invalid syntax"),
        ("limit=%201", "invalid syntax"),
        ("timeoutSeconds=9223372036854775808", "value out of range"),
    ],
)
def test_undecodable_list_options_are_a_bad_request(
    apiserver: Any, one_configmap_reader: str, option: str, why: str
) -> None:
    status, data, _ = request(
        apiserver,
        "GET",
        f"/api/v1/namespaces/default/configmaps?{option}",
        token=apiserver.admin_token,
    )
    assert status == 400, data
    assert data["reason"] == "BadRequest"
    raw = option.partition("=")[2].replace("%20", " ")
    assert data["message"] == f'strconv.ParseInt: parsing "{raw}": {why}'
