"""Attacks on API aggregation: forged front-proxy headers, and APIServices that take over a
group version. Both backends: the embedded server's in-process KubeVirt stand-in, and the
same stand-in beside kube-apiserver as an extension server behind the front proxy.

kube-apiserver believes ``X-Remote-*`` headers only from a client certificate of its
requestheader CA; its proxy replaces whatever ``X-Remote-*`` a client sent with the user it
authenticated, and the extension server believes them only from that proxy. An APIService is
an object like any other: creating one for a group version kube already registered (every
built-in one, as a ``Local`` APIService) is AlreadyExists, so only whoever may *update*
APIServices can redirect a group's traffic.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ..deputy.kubevirt import kubevirt
from ._attack import CRDS, RBAC, Server, call, crd, established, user_with, wait_for

APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
FORGED = [
    ("X-Remote-User", "system:admin"),
    ("X-Remote-Uid", "forged"),
    ("X-Remote-Group", "system:masters"),
    ("X-Remote-Extra-Scopes", "everything"),
]


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    yield apiserver


def _whoami(server: Server, token: str | None) -> tuple[int, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return call(server, "POST", REVIEW, body, token=token, headers=FORGED)


def test_forged_front_proxy_headers_are_not_believed(server: Server) -> None:
    token = server.add_user("mallory", ["dev"])
    status, body = _whoami(server, token)
    assert status == 201, body
    assert body["status"]["userInfo"] == {
        "username": "mallory",
        "groups": ["dev", "system:authenticated"],
    }
    status, body = _whoami(server, "not-a-token")
    assert (status, body["reason"]) == (401, "Unauthorized")


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("v1.authentication.k8s.io", "authentication.k8s.io"),
        (f"v1.{RBAC}", RBAC),
    ],
)
def test_creating_apiservices_takes_no_builtin_group_version(
    server: Server, name: str, group: str
) -> None:
    token = user_with(
        server,
        "registrar",
        [
            {
                "apiGroups": ["apiregistration.k8s.io"],
                "resources": ["apiservices"],
                "verbs": ["create"],
            }
        ],
    )
    server.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}",
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: evil}\n"
        "spec: {ports: [{port: 443}]}",
    )
    spec: dict[str, Any] = {
        "group": group,
        "version": "v1",
        "service": {"namespace": "evil", "name": "api", "port": 443},
        "insecureSkipTLSVerify": True,
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
    }
    service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": spec,
    }
    status, body = call(server, "POST", APISERVICES, service, token=token)
    assert status == 409, body
    assert body["message"] == f'apiservices.apiregistration.k8s.io "{name}" already exists'
    status, body = call(server, "GET", f"{APISERVICES}/{name}")
    assert status == 200, body
    assert body["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    assert "service" not in body["spec"]
    status, body = _whoami(server, None)
    assert status == 201, body  # TokenReviews and SelfSubjectReviews still answered locally


VMS = "vms"
CONSOLE = f"/apis/subresources.kubevirt.io/v1/namespaces/{VMS}/virtualmachineinstances/vm/console"


def _greeting(server: Server, token: str) -> str:
    async def run() -> str:
        context = ssl.create_default_context(cafile=server.ca_file)
        headers = {"Authorization": f"Bearer {token}", **dict(FORGED)}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                server.url + CONSOLE,
                headers=headers,
                ssl=context,
                protocols=("plain.kubevirt.io",),
            ) as ws,
        ):
            return await ws.receive_str()

    return asyncio.run(run())


def test_forged_headers_do_not_reach_the_extension_server(
    server: Server, apiserver_backend: str, tmp_path: Path
) -> None:
    with kubevirt(server, apiserver_backend, tmp_path):
        server.apply(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {VMS}}}",
            f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\n"
            f"metadata: {{name: vm, namespace: {VMS}}}\nspec: {{domain: {{devices: {{}}}}}}",
        )
        token = user_with(
            server,
            "carol",
            [
                {
                    "apiGroups": ["subresources.kubevirt.io"],
                    "resources": ["virtualmachineinstances/console"],
                    "verbs": ["get"],
                }
            ],
        )
        greeting = _greeting(server, token)
    assert greeting == f'connected to {VMS}/vm as carol groups=["system:authenticated"]'


def test_a_crd_cannot_take_an_aggregated_api_away(
    server: Server, apiserver_backend: str, tmp_path: Path
) -> None:
    """A CRD for the aggregated group version is never reached (the APIService with a
    service wins), and deleting it leaves the extension server's API in place."""
    name = "virtualmachineinstances.subresources.kubevirt.io"
    with kubevirt(server, apiserver_backend, tmp_path):
        server.apply(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {VMS}}}",
            f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\n"
            f"metadata: {{name: vm, namespace: {VMS}}}\nspec: {{domain: {{devices: {{}}}}}}",
        )
        fake = crd("subresources.kubevirt.io", "virtualmachineinstances", "Fake")
        status, body = call(server, "POST", CRDS, fake)
        assert status == 201, body
        wait_for(lambda: established(server, name), "the CRD established")
        assert _greeting(server, server.admin_token).startswith(f"connected to {VMS}/vm as ")
        status, body = call(server, "DELETE", f"{CRDS}/{name}")
        assert status == 200, body
        wait_for(lambda: call(server, "GET", f"{CRDS}/{name}")[0] == 404, "the CRD to go")
        time.sleep(1.0)  # whatever its controllers would undo
        assert _greeting(server, server.admin_token).startswith(f"connected to {VMS}/vm as ")
        status, body = call(server, "GET", "/apis/subresources.kubevirt.io/v1")
        assert status == 200, body
        assert [r["name"] for r in body["resources"]] == ["virtualmachineinstances/console"]
