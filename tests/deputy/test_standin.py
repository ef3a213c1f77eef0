"""The stand-in as an extension server: it believes the X-Remote-* headers only from the front
proxy (a client certificate of the requestheader CA with an allowed name), nobody else."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from cimp_apiserver.certs import load_or_create
from cimp_apiserver.kubevirt.frontproxy import (
    FrontProxyPKI,
    RequestHeaderAuth,
    create_front_proxy,
)
from cimp_apiserver.kubevirt.server import SERVING_HOSTS, StandInServer
from constrained_impersonation.identity import Identity

CONSOLE = "/apis/subresources.kubevirt.io/v1/namespaces/vms/virtualmachineinstances/{}/console"


def _client_context(serving_ca: Path, pki: FrontProxyPKI | None, work: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(serving_ca))
    context.check_hostname = False  # kube checks virt-api.kubevirt.svc; we dial 127.0.0.1
    if pki is not None:
        cert, key = work / f"{id(pki)}.crt", work / f"{id(pki)}.key"
        cert.write_bytes(pki.client_cert_pem)
        key.write_bytes(pki.client_key_pem)
        context.load_cert_chain(str(cert), str(key))
    return context


async def _lookup(namespace: str, name: str) -> dict[str, Any] | None:
    return {"spec": {"domain": {"devices": {}}}} if name == "vm1" else None


def test_only_the_front_proxy_is_believed(tmp_path: Path) -> None:
    front_proxy = create_front_proxy()
    serving = tmp_path / "serving"
    load_or_create(serving, hosts=SERVING_HOSTS)
    auth = RequestHeaderAuth(front_proxy.ca_pem)

    async def run() -> dict[str, Any]:
        server = StandInServer(_lookup, auth, serving / "cert.pem", serving / "key.pem")
        await server.start()
        url = f"https://127.0.0.1:{server.port}"
        results: dict[str, Any] = {}
        try:
            async with aiohttp.ClientSession() as session:

                async def get(path: str, pki: FrontProxyPKI | None, **headers: str) -> Any:
                    context = _client_context(serving / "ca.pem", pki, tmp_path)
                    try:
                        async with session.get(url + path, ssl=context, headers=headers) as resp:
                            return resp.status, await resp.text()
                    except aiohttp.ClientError as exc:
                        return type(exc).__name__

                discovery = "/apis/subresources.kubevirt.io/v1"
                results["proxy"] = await get(discovery, front_proxy)
                results["no certificate"] = await get(discovery, None)
                results["another CA"] = await get(discovery, create_front_proxy())
                # The right CA, but not a name kube-apiserver's proxy certificate carries.
                cert, key = front_proxy.issue("someone-else")
                same_ca = FrontProxyPKI(front_proxy.ca_pem, b"", cert, key)
                results["name not allowed"] = await get(discovery, same_ca)
                results["no user"] = await get(CONSOLE.format("vm1"), front_proxy)
                lines = CIMultiDict(
                    [
                        ("X-Remote-User", "alice"),
                        ("X-Remote-Group", "dev"),
                        ("X-Remote-Group", "ops,qa"),
                        ("X-Remote-Group", "system:authenticated"),
                    ]
                )
                async with session.ws_connect(
                    url + CONSOLE.format("vm1"),
                    headers=lines,
                    ssl=_client_context(serving / "ca.pem", front_proxy, tmp_path),
                    protocols=("plain.kubevirt.io",),
                ) as ws:
                    results["greeting"] = await ws.receive_str()
        finally:
            await server.stop()
        return results

    results = asyncio.run(run())
    assert results["proxy"][0] == 200
    assert json.loads(results["proxy"][1])["groupVersion"] == "subresources.kubevirt.io/v1"
    for case in ("no certificate", "another CA"):  # the TLS handshake fails
        assert isinstance(results[case], str), (case, results[case])
    assert results["name not allowed"] == (
        401,
        "x509: subject with cn=someone-else is not in the allowed list\n",
    )
    assert results["no user"][0] == 401
    assert results["greeting"] == (
        'connected to vms/vm1 as alice groups=["dev", "ops,qa", "system:authenticated"]'
    )


def test_identity_is_read_as_kubes_request_header_authenticator_reads_it() -> None:
    auth = RequestHeaderAuth(b"unused")
    headers = CIMultiDict(
        [
            ("X-Remote-User", "alice"),
            ("X-Remote-Uid", "a-1"),
            ("X-Remote-Group", "dev"),
            ("X-Remote-Group", ""),  # empty values are dropped
            ("X-Remote-Group", "ops,qa"),  # one group, never split
            ("X-Remote-Extra-Example.com%2fScopes", "view"),
            ("x-remote-extra-example.com%2fscopes", "edit"),
            ("X-Remote-Extra-Bad%zz", "kept raw"),
            ("Authorization", "Bearer ignored"),
        ]
    )
    assert auth.identity(headers) == Identity(
        "alice",
        "a-1",
        ("dev", "ops,qa"),
        {"example.com/scopes": ("view", "edit"), "bad%zz": ("kept raw",)},
    )
    assert auth.identity(CIMultiDict([("X-Remote-Group", "dev")])) is None


def test_settings_come_from_extension_apiserver_authentication() -> None:
    ca = create_front_proxy().ca_pem.decode()
    data = {
        "client-ca-file": "the cluster's client CA: not for the front proxy",
        "requestheader-client-ca-file": ca,
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-username-headers": '["X-Remote-User"]',
        "requestheader-uid-headers": '["X-Remote-Uid"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
    }
    assert RequestHeaderAuth.from_configmap(data) == RequestHeaderAuth(ca.encode())
    with pytest.raises(ValueError, match="--requestheader-client-ca-file"):
        RequestHeaderAuth.from_configmap({"client-ca-file": ca})
