"""KubeVirt in the test cluster, as a cluster has it: the VMI CRD and virt-api's APIService.

On the embedded server an APIService naming ``kubevirt/virt-api`` is served by its in-process
stand-in. Against a real kube-apiserver the tests run the same stand-in as an extension API
server on a free loopback port: it trusts the front-proxy CA that kube-apiserver publishes in
``kube-system/extension-apiserver-authentication`` (as every extension server reads it), and
the Service becomes an ``ExternalName`` for ``localhost`` on that port. (An EndpointSlice
cannot point at 127.0.0.1: kube refuses loopback endpoint addresses, and an aggregated API
served through one would need a non-loopback interface.)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from cimp_apiserver.certs import load_or_create
from cimp_apiserver.kubevirt.frontproxy import CONFIGMAP, RequestHeaderAuth
from cimp_apiserver.kubevirt.server import SERVING_HOSTS, StandInThread

__all__ = ["APISERVICE", "CRD", "MANIFESTS", "install_kubevirt", "kubevirt"]

MANIFESTS = Path(__file__).resolve().parent / "manifests"
CRD = MANIFESTS / "kubevirt-crd.yaml"
APISERVICE = MANIFESTS / "kubevirt-apiservice.yaml"
APISERVICE_NAME = "v1.subresources.kubevirt.io"


def _wait(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready after {timeout:.0f} s: {last}")


def _crd_served(server: Any) -> tuple[bool, Any]:
    status, body = server.request("GET", "/apis/kubevirt.io/v1")
    served = status == 200 and any(
        r.get("name") == "virtualmachineinstances" for r in body.get("resources", ())
    )
    return served, (status, body)


def _available(server: Any) -> tuple[bool, Any]:
    status, body = server.request(
        "GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE_NAME}"
    )
    conditions = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
    available = any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
    if not available:
        return False, conditions
    # The proxy learns of availability a moment after the status says so.
    status, listing = server.request("GET", "/apis/subresources.kubevirt.io/v1")
    return status == 200, (status, listing)


def _pointed_at(docs: list[dict[str, Any]], port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """The manifests with the Service and APIService aimed at a stand-in on localhost:port."""
    import base64

    docs = copy.deepcopy(docs)
    for doc in docs:
        if doc["kind"] == "Service":
            doc["spec"] = {"type": "ExternalName", "externalName": "localhost"}
        elif doc["kind"] == "APIService":
            doc["spec"]["service"]["port"] = port
            doc["spec"]["caBundle"] = base64.b64encode(ca_pem).decode()
    return docs


@contextmanager
def kubevirt(server: Any, backend: str, workdir: Path) -> Iterator[StandInThread | None]:
    """KubeVirt's CRD and APIService on ``server``; on ``kube``, with the stand-in running
    beside it for as long as the context lasts (yielded; None on the embedded server)."""
    server.apply(CRD)
    _wait("the VMI CRD", lambda: _crd_served(server))
    docs = [d for d in yaml.safe_load_all(APISERVICE.read_text()) if d]
    standin: StandInThread | None = None
    try:
        if backend == "kube":
            status, configmap = server.request(
                "GET", "/api/v1/namespaces/{}/configmaps/{}".format(*CONFIGMAP)
            )
            assert status == 200, configmap
            serving = load_or_create(workdir / "virt-api-pki", hosts=SERVING_HOSTS)
            standin = StandInThread(
                RequestHeaderAuth.from_configmap(configmap["data"]),
                workdir / "virt-api-pki" / "cert.pem",
                workdir / "virt-api-pki" / "key.pem",
                api_url=server.url,
                token=server.admin_token,
                ca_file=server.ca_file,
            )
            docs = _pointed_at(docs, standin.port, serving.ca_pem)
        server.apply(*docs)
        _wait("the KubeVirt APIService", lambda: _available(server))
        yield standin
    finally:
        if standin is not None:
            standin.stop()


def install_kubevirt(server: Any, backend: str, workdir: Path) -> Any:
    """:func:`kubevirt` entered without a ``with`` (the caller closes what it returns)."""
    manager = kubevirt(server, backend, workdir)
    manager.__enter__()
    return manager
