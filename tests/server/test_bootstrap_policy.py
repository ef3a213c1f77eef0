"""The bootstrap RBAC policy a server serves is kube-apiserver 1.37.2's, object for object.

``server/cimp_apiserver/authz/bootstrap-policy.json`` was captured from the pinned kube-apiserver
(``hack/gen-bootstrap-rbac.py``). On the kube backend this test checks that capture is still what
kube serves; on the embedded backend that the server seeds exactly it. The one difference kept
on purpose: the embedded server fills the aggregated roles (``admin``, ``edit``, ``view``) that
kube leaves empty until a controller-manager aggregates them (tests/conformance compares both
servers directly, in ``test_bootstrap_policy.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

POLICY = Path(__file__).parents[2] / "server" / "cimp_apiserver" / "authz" / "bootstrap-policy.json"
KINDS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")
LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")


def served_policy(server: Any) -> dict[str, dict[str, Any]]:
    """Every bootstrap RBAC object the server answers, keyed ``plural/namespace/name``, with
    what the server sets itself (uid, resourceVersion, timestamps, managedFields) left out."""
    out: dict[str, dict[str, Any]] = {}
    for plural in KINDS:
        status, body = server.request("GET", f"/apis/rbac.authorization.k8s.io/v1/{plural}")
        assert status == 200, body
        for item in body["items"]:
            meta = item["metadata"]
            if (meta.get("labels") or {}).get(LABEL[0]) != LABEL[1]:
                continue
            view = {k: v for k, v in item.items() if k not in ("apiVersion", "kind", "metadata")}
            view["metadata"] = {
                k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta
            }
            out[f"{plural}/{meta.get('namespace', '')}/{meta['name']}"] = view
    return out


def captured_policy() -> dict[str, dict[str, Any]]:
    document = json.loads(POLICY.read_text(encoding="utf-8"))
    out = {}
    for plural in KINDS:
        for obj in document[plural]:
            meta = obj["metadata"]
            view = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            out[f"{plural}/{meta.get('namespace', '')}/{meta['name']}"] = view
    return out


def without_aggregated_rules(policy: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The aggregated roles' rules are the aggregation controller's, not the policy's."""
    return {
        key: {k: v for k, v in obj.items() if not (k == "rules" and "aggregationRule" in obj)}
        for key, obj in policy.items()
    }


def test_the_served_policy_is_kubes(apiserver: Any) -> None:
    served = without_aggregated_rules(served_policy(apiserver))
    captured = without_aggregated_rules(captured_policy())
    assert sorted(served) == sorted(captured)
    differing = [key for key in captured if served[key] != captured[key]]
    assert not differing, json.dumps(
        {key: {"served": served[key], "kube": captured[key]} for key in differing[:3]}, indent=1
    )


@pytest.mark.parametrize("name", ["admin", "edit", "view"])
def test_aggregated_roles_carry_their_aggregation_rule(apiserver: Any, name: str) -> None:
    status, role = apiserver.request(
        "GET", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"
    )
    assert status == 200, role
    assert role["aggregationRule"] == {
        "clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{name}": "true"}}
        ]
    }


def test_kube_system_roles_are_seeded(apiserver: Any) -> None:
    status, role = apiserver.request(
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/"
        "extension-apiserver-authentication-reader",
    )
    assert status == 200, role
    assert role["rules"] == [
        {
            "verbs": ["get", "list", "watch"],
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["extension-apiserver-authentication"],
        }
    ]


@pytest.mark.parametrize(
    "path", ["/apis/rbac.authorization.k8s.io/v1/clusterroles", "/api/v1/namespaces"]
)
def test_built_in_list_items_carry_no_type(apiserver: Any, path: str) -> None:
    """kube encodes a built-in list's items without apiVersion/kind (the list names them)."""
    status, body = apiserver.request("GET", path)
    assert status == 200, body
    assert body["items"]
    assert all("kind" not in i and "apiVersion" not in i for i in body["items"]), body["items"][0]
