"""A CRD created through ``kubectl apply`` and used by every client, on both backends.

kubectl 1.37 applies the CRD, waits for it to be established, applies custom resources and
prints them with the CRD's printer columns; the ``kubernetes`` client's ``CustomObjectsApi``
and ``DynamicClient`` read and write them (status and scale too); RBAC, the Node authorizer
and constrained impersonation treat them like any other resource: the same 403s, naming
``widgets`` in group ``example.com``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k
from kubernetes.dynamic import DynamicClient

import constrained_impersonation as ci
from constrained_impersonation import rbac
from constrained_impersonation.testing import APIServer

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
KUBECTL = REPO / ".tools" / "kube" / "v1.37.2" / "kubectl"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


class Kubectl:
    """kubectl 1.37 with its own kubeconfig, cache and HOME."""

    def __init__(self, kubeconfig: str, home: Path) -> None:
        if not KUBECTL.exists():
            pytest.skip("kubectl 1.37 not built (make kube)")
        self.kubeconfig, self.home = kubeconfig, home
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), f"--cache-dir={self.home / 'cache'}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "KUBECONFIG": self.kubeconfig, "HOME": str(self.home)},
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"kubectl {' '.join(args)}\n{result.stderr}"
        return result.stdout


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


@pytest.fixture(scope="module")
def server(
    apiserver_class: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[APIServer]:
    with apiserver_class() as s:
        kubectl = Kubectl(s.kubeconfig(), tmp_path_factory.mktemp("kubectl-setup"))
        kubectl.ok("apply", "-f", str(MANIFESTS / "widgets-crd.yaml"))
        kubectl.ok(
            "wait", "--for", "condition=established", "--timeout=30s",
            "crd/widgets.example.com",
        )  # fmt: skip
        wait_for(lambda: s.request("GET", WIDGETS)[0] == 200, "widgets to be served")
        time.sleep(2.1)  # kube holds creates for 2 s after a CRD is established
        kubectl.ok("apply", "-f", str(MANIFESTS / "widgets.yaml"))
        yield s


@pytest.fixture
def kubectl(server: APIServer, tmp_path: Path) -> Kubectl:
    return Kubectl(server.kubeconfig(), tmp_path)


# --------------------------------------------------------------------------- kubectl


def test_kubectl_get_prints_the_printer_columns(kubectl: Kubectl) -> None:
    table = rows(kubectl.ok("get", "widgets"))
    assert table[0] == ["NAME", "SIZE", "AGE"]
    assert [r[:2] for r in table[1:]] == [["large", "9"], ["small", "2"]]
    wide = rows(kubectl.ok("get", "widgets", "-o", "wide"))
    assert wide[0] == ["NAME", "SIZE", "COLOR", "AGE"]
    assert [r[:3] for r in wide[1:]] == [["large", "9", "blue"], ["small", "2", "red"]]


def test_kubectl_finds_the_resource_by_short_name_category_and_version(kubectl: Kubectl) -> None:
    assert rows(kubectl.ok("get", "wd", "-o", "name")) == [
        ["widget.example.com/large"],
        ["widget.example.com/small"],
    ]
    assert "widget.example.com/small" in kubectl.ok("get", "stuff", "-o", "name")
    older = kubectl.ok(
        "get", "widgets.v1beta1.example.com", "small", "-o", "jsonpath={.apiVersion}"
    )
    assert older == "example.com/v1beta1"
    resources = kubectl.ok("api-resources", "--api-group=example.com")
    assert rows(resources)[1] == ["widgets", "wd", "example.com/v1", "true", "Widget"]


def test_kubectl_apply_validates_against_the_schema(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: huge\n  namespace: default\n"
        "spec:\n  size: 50\n"
    )
    result = kubectl.run("apply", "-f", str(bad))
    assert result.returncode == 1
    assert (
        'The Widget "huge" is invalid: spec.size: Invalid value: 50: spec.size in body should '
        "be less than or equal to 10" in result.stderr
    )
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: odd\n  namespace: default\n"
        "spec:\n  size: 1\n  shape: round\n"
    )
    result = kubectl.run("apply", "-f", str(unknown))
    assert result.returncode == 1
    assert 'unknown field "spec.shape"' in result.stderr


def test_kubectl_scale_and_patch_status(kubectl: Kubectl, server: APIServer) -> None:
    kubectl.ok("scale", "widget/small", "--replicas=3")
    assert kubectl.ok("get", "widget", "small", "-o", "jsonpath={.spec.size}") == "3"
    kubectl.ok(
        "patch", "widget", "small", "--subresource=status", "--type=merge",
        "-p", '{"status":{"replicas":3}}',
    )  # fmt: skip
    assert kubectl.ok("get", "widget", "small", "-o", "jsonpath={.status.replicas}") == "3"


def test_kubectl_explain_reads_the_schema(kubectl: Kubectl) -> None:
    explained = kubectl.ok("explain", "widgets.spec.size")
    assert "FIELD: size <integer>" in explained
    assert "How many things to make." in explained


# --------------------------------------------------------------------------- the Python client


def test_custom_objects_api_reads_and_writes(server: APIServer) -> None:
    api = k.CustomObjectsApi(server.api_client())
    created = api.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "api"},
         "spec": {"size": 4}},
    )  # fmt: skip
    assert created["spec"] == {"color": "red", "size": 4}
    listed = api.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert listed["kind"] == "WidgetList"
    assert "api" in [i["metadata"]["name"] for i in listed["items"]]
    patched = api.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "api", {"spec": {"color": "blue"}}
    )
    assert patched["spec"]["color"] == "blue"
    api.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "api", {"status": {"replicas": 1}}
    )
    scale = api.get_namespaced_custom_object_scale("example.com", "v1", "default", "widgets", "api")
    assert scale["spec"] == {"replicas": 4} and scale["status"]["replicas"] == 1
    api.patch_namespaced_custom_object_scale(
        "example.com", "v1", "default", "widgets", "api", {"spec": {"replicas": 6}}
    )
    got = api.get_namespaced_custom_object("example.com", "v1beta1", "default", "widgets", "api")
    assert got["apiVersion"] == "example.com/v1beta1" and got["spec"]["size"] == 6
    with pytest.raises(k.ApiException) as err:
        api.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets",
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"},
             "spec": {"size": "big"}},
        )  # fmt: skip
    assert err.value.status == 422
    api.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "api")
    with pytest.raises(k.ApiException) as err:
        api.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "api")
    assert err.value.status == 404


def test_dynamic_client_finds_the_resource_by_discovery(server: APIServer) -> None:
    dyn = DynamicClient(server.api_client())
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    assert widgets.namespaced and widgets.name == "widgets"
    created = widgets.create(
        body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "dyn"},
              "spec": {"size": 5}},
        namespace="default",
    )  # fmt: skip
    assert created.spec.size == 5 and created.spec.color == "red"
    names = [w.metadata.name for w in widgets.get(namespace="default").items]
    assert "dyn" in names
    events = list(widgets.watch(namespace="default", field_selector="metadata.name=dyn", timeout=1))
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"].metadata.name == "dyn"
    widgets.delete(name="dyn", namespace="default")


# --------------------------------------------------------------------------- authorization


def _grant(server: APIServer, name: str, user: str, rules: list[dict[str, Any]]) -> None:
    server.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": "default"},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )


def test_rbac_grants_custom_resources_like_any_other(server: APIServer) -> None:
    token = server.add_user("reader")
    _grant(
        server,
        "widget-reader",
        "reader",
        [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}],
    )
    api = k.CustomObjectsApi(server.api_client(token))
    names = [
        i["metadata"]["name"]
        for i in api.list_namespaced_custom_object("example.com", "v1", "default", "widgets")[
            "items"
        ]
    ]
    assert "small" in names
    with pytest.raises(k.ApiException) as err:
        api.patch_namespaced_custom_object_status(
            "example.com", "v1", "default", "widgets", "small", {"status": {"replicas": 1}}
        )
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == (
        'widgets.example.com "small" is forbidden: User "reader" cannot patch resource '
        '"widgets/status" in API group "example.com" in the namespace "default"'
    )
    status, answer = server.request("GET", "/apis/example.com/v1/widgets", token=token)
    assert (status, answer["message"]) == (
        403,
        'widgets.example.com is forbidden: User "reader" cannot list resource "widgets" in API '
        'group "example.com" at the cluster scope',
    )


def test_constrained_impersonation_of_a_user_on_custom_resources(server: APIServer) -> None:
    scope = ci.Scope(ci.Rule(verbs=["list"], resources=["widgets"], group="example.com"))
    server.apply(*rbac.render(scope, "user-info", "user:widget-deputy"))
    _grant(
        server,
        "alice-widgets",
        "alice",
        [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["list"]}],
    )
    deputy = server.api_client(server.add_user("widget-deputy"))
    with ci.UserSession(deputy, user="alice", scope=scope) as session:
        listed = k.CustomObjectsApi(session.api_client).list_namespaced_custom_object(
            "example.com", "v1", "default", "widgets"
        )
        assert "small" in [i["metadata"]["name"] for i in listed["items"]]
    narrow = ci.Scope(ci.Rule(verbs=["list"], resources=["gadgets"], group="example.com"))
    other = server.api_client(server.add_user("gadget-deputy"))
    server.apply(*rbac.render(narrow, "user-info", "user:gadget-deputy"))
    unrestricted = ci.Scope.unrestricted_unsafe()
    with (
        ci.UserSession(other, user="alice", scope=unrestricted) as session,
        pytest.raises(ci.ImpersonationDenied) as denied,
    ):
        k.CustomObjectsApi(session.api_client).list_namespaced_custom_object(
            "example.com", "v1", "default", "widgets"
        )
    assert denied.value.verb == "impersonate-on:user-info:list"
    assert denied.value.rule == {
        "apiGroups": ["example.com"],
        "resources": ["widgets"],
        "verbs": ["impersonate-on:user-info:list"],
    }


def test_node_authorizer_leaves_custom_resources_to_rbac(server: APIServer) -> None:
    server.apply(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-w"}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "agent-w", "namespace": "default"},
        },
    )
    scope = ci.Scope(ci.Rule(verbs=["list"], resources=["widgets"], group="example.com"))
    server.apply(*rbac.render(scope, "arbitrary-node", "default/agent-w"))
    token = server.token_for("default", "agent-w")
    agent = server.api_client(token)
    with ci.ArbitraryNodeSession(agent, node="node-w", scope=scope) as session:
        api = k.CustomObjectsApi(session.api_client)
        with pytest.raises(k.ApiException) as err:
            api.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
        assert err.value.status == 403
        assert json.loads(err.value.body)["message"] == (
            'widgets.example.com is forbidden: User "system:node:node-w" cannot list resource '
            '"widgets" in API group "example.com" in the namespace "default"'
        )
        server.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "nodes-list-widgets"},
                "rules": [
                    {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["list"]}
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "nodes-list-widgets"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "nodes-list-widgets",
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Group",
                        "name": "system:nodes",
                    }
                ],
            },
        )
        listed = api.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
        assert "small" in [i["metadata"]["name"] for i in listed["items"]]
