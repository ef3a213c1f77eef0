"""Core resources kube-apiserver computes or answers specially, on both backends.

``componentstatuses`` without a scheduler or controller-manager, ``bindings``, the deprecation
warning of v1 Endpoints and ComponentStatus, DELETE answering with the object for the kinds
whose store returns it, and ``pods/ephemeralcontainers`` (``kubectl debug``).
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k

ENDPOINTS_WARNING = (
    '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'
)


@pytest.fixture(scope="module")
def server(apiserver_class: Any) -> Iterator[Any]:
    with apiserver_class() as started:
        yield started


def raw(server: Any, method: str, path: str, body: Any = None) -> tuple[int, Any, list[str]]:
    """A request whose Warning headers the test reads."""
    context = ssl.create_default_context(cafile=server.ca_file)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {server.admin_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return (
                response.status,
                json.loads(response.read()),
                response.headers.get_all("Warning") or [],
            )
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get_all("Warning") or []


def test_component_statuses_without_scheduler_or_controller_manager(server: Any) -> None:
    status, listed = server.request("GET", "/api/v1/componentstatuses")
    assert status == 200 and listed["kind"] == "ComponentStatusList"
    health = {
        item["metadata"]["name"]: (
            item["conditions"][0]["status"],
            item["conditions"][0]["message"],
        )
        for item in listed["items"]
    }
    assert health["etcd-0"] == ("True", "ok")
    assert health["scheduler"] == (
        "False",
        'Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect: connection '
        "refused",
    )
    assert health["controller-manager"][0] == "False"
    status, body = server.request("GET", "/api/v1/componentstatuses/nope")
    assert (status, body["message"], body["details"]) == (
        404,
        'componentstatus "nope" not found',
        {"name": "nope", "kind": "componentstatus"},
    )
    status, _, warnings = raw(server, "GET", "/api/v1/componentstatuses/etcd-0")
    assert (status, warnings) == (200, ['299 - "v1 ComponentStatus is deprecated in v1.19+"'])


def test_bindings_bind_the_pod_the_body_names(server: Any) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bound"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert server.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bound"},
        "target": {"kind": "Node", "name": "node-x"},
    }
    status, body = server.request("POST", "/api/v1/namespaces/default/bindings", binding)
    assert (status, body["status"], body["code"]) == (201, "Success", 201)
    status, got = server.request("GET", "/api/v1/namespaces/default/pods/bound")
    assert got["spec"]["nodeName"] == "node-x"
    binding["metadata"]["name"] = "missing"
    status, body = server.request("POST", "/api/v1/namespaces/default/bindings", binding)
    assert (status, body["message"]) == (404, 'pods "missing" not found')
    status, body = server.request("GET", "/api/v1/namespaces/default/bindings")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")


def test_endpoints_carry_kubes_deprecation_warning(server: Any) -> None:
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "old"}}
    status, _, warnings = raw(server, "POST", "/api/v1/namespaces/default/endpoints", endpoints)
    assert (status, warnings) == (201, [ENDPOINTS_WARNING])
    status, _, warnings = raw(server, "GET", "/api/v1/namespaces/default/endpoints/nope")
    assert (status, warnings) == (404, [ENDPOINTS_WARNING])
    status, _, warnings = raw(server, "GET", "/api/v1/namespaces/default/configmaps")
    assert (status, warnings) == (200, [])


def test_delete_answers_with_the_object_where_kube_does(server: Any) -> None:
    with server.api_client() as api:
        core = k.CoreV1Api(api)
        core.create_namespaced_service(
            "default",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "gone"},
                "spec": {"ports": [{"port": 80}]},
            },
        )
        deleted = core.delete_namespaced_service("gone", "default")
        assert (deleted.kind, deleted.metadata.name) == ("Service", "gone")
        core.create_namespaced_config_map("default", {"metadata": {"name": "gone"}})
        answer = core.delete_namespaced_config_map("gone", "default")
        status = answer if isinstance(answer, dict) else answer.to_dict()
        assert (status["kind"], status["status"]) == ("Status", "Success")  # a ConfigMap's


def test_ephemeral_containers_change_only_themselves(server: Any) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "debugged"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert server.request("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    path = "/api/v1/namespaces/default/pods/debugged/ephemeralcontainers"
    status, got = server.request("GET", path)
    assert (status, got["kind"]) == (200, "Pod")
    patch = {
        "spec": {
            "ephemeralContainers": [
                {"name": "dbg", "image": "busybox", "targetContainerName": "c"}
            ],
            "containers": [{"name": "c", "image": "ignored"}],
        }
    }
    status, written = server.request(
        "PATCH",
        path,
        patch,
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert status == 200, written
    assert [c["name"] for c in written["spec"]["ephemeralContainers"]] == ["dbg"]
    assert written["spec"]["containers"][0]["image"] == "busybox"
    assert written["metadata"]["generation"] == 2
