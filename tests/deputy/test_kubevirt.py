"""KubeVirt as a cluster has it, on both backends: VMIs from the CRD, the console from virt-api's
aggregated API (the stand-in), authorized by the API server and answered by the stand-in."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from .conftest import VMS, Cluster, is_console_session
from .kubevirt import APISERVICE_NAME, kubevirt

T = TypeVar("T")
CONSOLE = "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachineinstances/{}/console"
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _eventually(check: Callable[[], T], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _vmi(name: str, devices: dict[str, Any] | None = None, phase: str = "") -> dict[str, Any]:
    vmi: dict[str, Any] = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": VMS},
        "spec": {"domain": {"devices": devices or {}}},
    }
    if phase:  # KubeVirt's VMI CRD has no status subresource: status is written with the VMI
        vmi["status"] = {"phase": phase}
    return vmi


def _open(server: Any, path: str, headers: dict[str, str]) -> tuple[str, str | None]:
    async def run() -> tuple[str, str | None]:
        context = ssl.create_default_context(cafile=server.ca_file)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                server.url + path, headers=headers, ssl=context, protocols=("plain.kubevirt.io",)
            ) as ws,
        ):
            greeting = await ws.receive_str()
            await ws.send_str("ping")
            assert await ws.receive_str() == "ping"
            return greeting, ws.protocol

    return asyncio.run(run())


def test_vmis_come_from_kubevirts_crd(cluster: Cluster) -> None:
    status, listing = cluster.server.request("GET", "/apis/kubevirt.io/v1")
    assert status == 200
    (vmis,) = [r for r in listing["resources"] if r["name"] == "virtualmachineinstances"]
    assert (vmis["kind"], vmis["shortNames"], vmis["categories"]) == (
        "VirtualMachineInstance",
        ["vmi", "vmis"],
        ["all"],
    )
    status, crd = cluster.server.request(
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualmachineinstances.kubevirt.io",
    )
    assert status == 200 and crd["status"]["acceptedNames"]["shortNames"] == ["vmi", "vmis"]
    # The schema is KubeVirt's: a VMI needs spec.domain.devices.
    status, body = cluster.server.request(
        "POST",
        f"/apis/kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances",
        {**_vmi("no-devices"), "spec": {"domain": {}}},
    )
    assert status == 422, body
    assert "spec.domain.devices: Required value" in body["message"]


def test_the_console_is_an_aggregated_api(cluster: Cluster) -> None:
    server = cluster.server
    status, service = server.request(
        "GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE_NAME}"
    )
    assert status == 200
    (available,) = service["status"]["conditions"]
    assert {k: available[k] for k in ("type", "status", "reason", "message")} == {
        "type": "Available",
        "status": "True",
        "reason": "Passed",
        "message": "all checks passed",
    }
    # /apis/subresources.kubevirt.io/v1 is virt-api's own list, relayed as it wrote it.
    assert server.request("GET", "/apis/subresources.kubevirt.io/v1") == (
        200,
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "subresources.kubevirt.io/v1",
            "resources": [
                {
                    "name": "virtualmachineinstances/console",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "",
                    "verbs": None,
                }
            ],
        },
    )
    _, groups = server.request("GET", "/apis")
    names = [g["name"] for g in groups["groups"]]
    assert {"kubevirt.io", "subresources.kubevirt.io"} <= set(names)
    _, aggregated = server.request("GET", "/apis", headers={"Accept": V2})
    (entry,) = [
        i for i in aggregated["items"] if i["metadata"]["name"] == "subresources.kubevirt.io"
    ]
    no_kind = {"group": "", "version": "", "kind": ""}
    assert entry["versions"] == [
        {
            "version": "v1",
            "resources": [
                {
                    "resource": "virtualmachineinstances",
                    "responseKind": no_kind,
                    "scope": "Namespaced",
                    "singularResource": "",
                    "verbs": None,
                    "subresources": [
                        {"subresource": "console", "responseKind": no_kind, "verbs": None}
                    ],
                }
            ],
            "freshness": "Current",
        }
    ]


def test_virt_apis_refusals_are_relayed(cluster: Cluster) -> None:
    server = cluster.server
    server.apply(
        _vmi("vm-failed", phase="Failed"),
        _vmi("vm-pending", phase="Pending"),
        _vmi("vm-headless", devices={"autoattachSerialConsole": False}),
    )
    cases: list[tuple[str, str, int, Any]] = [
        ("GET", "nope", 404, 'virtualmachineinstance.kubevirt.io "nope" not found'),
        (
            "GET",
            "vm-failed",
            409,
            'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm-failed": '
            "VMI is in failed status",
        ),
        ("GET", "vm-pending", 400, "VMI is not running"),
        ("GET", "vm-headless", 400, "No serial consoles are present."),
        # Everything checks out, but a plain GET is no websocket (gorilla/websocket's words).
        (
            "GET",
            "vm1",
            400,
            "websocket: the client is not using the websocket protocol: "
            "'upgrade' token not found in 'Connection' header",
        ),
    ]
    for method, name, code, message in cases:
        status, body = server.request(method, CONSOLE.format(VMS, name))
        assert (status, body["message"]) == (code, message), name
        assert body["kind"] == "Status"
    assert server.request("GET", CONSOLE.format(VMS, "nope"))[1]["details"] == {
        "name": "nope",
        "group": "kubevirt.io",
        "kind": "virtualmachineinstance",
    }
    # go-restful's plain-text answers for a method or path virt-api has no route for.
    assert server.request("POST", CONSOLE.format(VMS, "vm1")) == (405, "405: Method Not Allowed")
    assert server.request(
        "GET", f"/apis/subresources.kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances/vm1/vnc"
    ) == (404, "404 page not found\n")


def test_the_api_server_authorizes_before_the_stand_in_answers(cluster: Cluster) -> None:
    server = cluster.server
    status, body = server.request("GET", CONSOLE.format(VMS, "nope"), token=cluster.bob)
    assert status == 403  # not bob's 404: he may not know whether the VMI exists
    assert body["message"] == (
        'virtualmachineinstances.subresources.kubevirt.io "nope" is forbidden: User "bob" '
        'cannot get resource "virtualmachineinstances/console" in API group '
        f'"subresources.kubevirt.io" in the namespace "{VMS}"'
    )
    assert body["details"] == {
        "name": "nope",
        "group": "subresources.kubevirt.io",
        "kind": "virtualmachineinstances",
    }
    status, body = server.request("GET", CONSOLE.format(VMS, "vm1"), token="not-a-token")
    assert (status, body["reason"]) == (401, "Unauthorized")
    # Discovery of the group is for everyone authenticated (system:discovery).
    assert server.request("GET", "/apis/subresources.kubevirt.io/v1", token=cluster.bob)[0] == 200


def test_an_impersonated_console_reaches_the_stand_in_as_the_user(cluster: Cluster) -> None:
    server = cluster.server
    mark = cluster.mark()
    greeting, protocol = _open(
        server,
        CONSOLE.format(VMS, "vm2"),
        {
            "Authorization": f"Bearer {server.admin_token}",
            "Impersonate-User": "carol",
            "Impersonate-Uid": "carol-uid",
            "Impersonate-Group": "system:masters",
            "Impersonate-Extra-Example.com%2fscopes": "console",
        },
    )
    cluster.opened += 1
    assert greeting == (
        f'connected to {VMS}/vm2 as carol groups=["system:masters", "system:authenticated"]'
    )
    assert protocol == "plain.kubevirt.io"
    cluster.mark()
    (event,) = [e for e in cluster.events_since(mark) if is_console_session(e)]
    assert event["objectRef"] == {
        "resource": "virtualmachineinstances",
        "namespace": VMS,
        "name": "vm2",
        "apiGroup": "subresources.kubevirt.io",
        "apiVersion": "v1",
        "subresource": "console",
    }
    assert event["impersonatedUser"] == {
        "username": "carol",
        "uid": "carol-uid",
        "groups": ["system:masters", "system:authenticated"],
        "extra": {"example.com/scopes": ["console"]},
    }
    assert [e["stage"] for e in cluster.events_since(mark) if "/console" in e["requestURI"]] == [
        "ResponseComplete"  # not long-running: no ResponseStarted
    ]


def test_an_unavailable_apiservice_is_503(
    apiserver: Any, apiserver_backend: str, tmp_path: Path
) -> None:
    with kubevirt(apiserver, apiserver_backend, tmp_path):
        status, _ = apiserver.request("DELETE", "/api/v1/namespaces/kubevirt/services/virt-api")
        assert status == 200

        def unavailable() -> dict[str, Any]:
            _, service = apiserver.request(
                "GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE_NAME}"
            )
            (condition,) = service["status"]["conditions"]
            assert condition["status"] == "False", condition
            return dict(condition)

        condition = _eventually(unavailable)
        assert (condition["reason"], condition["message"]) == (
            "ServiceNotFound",
            'service/virt-api in "kubevirt" is not present',
        )
        answer = _eventually(
            lambda: _expect(apiserver.request("GET", CONSOLE.format("default", "vm1")), 503)
        )
        assert answer == (503, "service unavailable\n")
        assert apiserver.request("GET", "/apis/subresources.kubevirt.io/v1") == answer
        _, groups = apiserver.request("GET", "/apis")  # still listed, as kube lists it
        assert "subresources.kubevirt.io" in [g["name"] for g in groups["groups"]]

        # Without the APIService the group is gone: nothing serves its paths.
        status, _ = apiserver.request(
            "DELETE", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE_NAME}"
        )
        assert status == 200
        gone = _eventually(
            lambda: _expect(apiserver.request("GET", CONSOLE.format("default", "vm1")), 404)
        )
        assert gone == (404, "404 page not found\n")

        def unlisted() -> None:
            _, groups = apiserver.request("GET", "/apis")
            assert "subresources.kubevirt.io" not in [g["name"] for g in groups["groups"]]

        _eventually(unlisted)


def _expect(answer: tuple[int, Any], status: int) -> tuple[int, Any]:
    assert answer[0] == status, answer
    return answer


@pytest.mark.parametrize("path", ["/openapi/v3"])
def test_the_stand_in_adds_no_openapi_document(cluster: Cluster, path: str) -> None:
    _, index = cluster.server.request("GET", path)
    assert "apis/kubevirt.io/v1" in index["paths"]  # the CRD's
    assert not [p for p in index["paths"] if "subresources.kubevirt.io" in p]
