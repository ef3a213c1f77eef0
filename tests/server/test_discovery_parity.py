"""Discovery as kube-apiserver v1.37.2 publishes it, on both backends.

``tests/server/data/kube-v1.37.2-discovery.json.gz`` holds the documents the real server sent
when ``hack/gen-resources.py`` captured the embedded server's resource data, and what its
kubectl printed for ``kubectl api-resources``. Each backend is compared with that capture: on
the real server the test says the capture (and so the data) is current, on the embedded server
that every built-in group, version and resource is served as kube serves it. With
``--apiserver=kube`` the two servers are also compared with each other, live.

Nothing is left out: the KubeVirt stand-in is served only once a test installs its CRD and
APIService, so a fresh embedded server's discovery is kube's, group for group.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constrained_impersonation.testing import APIServer, KubeBinariesNotFound
from constrained_impersonation.testing._assets import find_assets

FIXTURE = Path(__file__).parent / "data" / "kube-v1.37.2-discovery.json.gz"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    return loaded


@pytest.fixture(scope="module")
def server(apiserver_class: Any) -> Iterator[Any]:
    with apiserver_class() as started:
        yield started


def _get(server: Any, path: str, accept: str = "application/json") -> Any:
    status, body = server.request("GET", path, headers={"Accept": accept})
    assert status == 200, (path, status, body)
    return body


def documents(server: Any) -> dict[str, Any]:
    """Every discovery document of ``server``, keyed as the capture keys them."""
    docs: dict[str, Any] = {
        "aggregated/api": _get(server, "/api", AGGREGATED),
        "aggregated/apis": _get(server, "/apis", AGGREGATED),
        "api": _get(server, "/api"),
        "apis": _get(server, "/apis"),
        "api/v1": _get(server, "/api/v1"),
    }
    docs["api"]["serverAddressByClientCIDRs"] = []
    for group in docs["apis"]["groups"]:
        docs[f"apis/{group['name']}"] = _get(server, f"/apis/{group['name']}")
        for version in group["versions"]:
            gv = version["groupVersion"]
            docs[f"apis/{gv}"] = _get(server, f"/apis/{gv}")
    return docs


def _kubectl() -> Path:
    try:
        kubectl = find_assets().kubectl
    except KubeBinariesNotFound as exc:
        pytest.skip(f"kubectl 1.37 not built: {exc}")
    if kubectl is None:
        pytest.skip("kubectl 1.37 not built (make kube)")
    return kubectl


def api_resources(server: Any, home: Path) -> str:
    """``kubectl api-resources`` (kubectl 1.37) against ``server``."""
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(_kubectl()), "--kubeconfig", server.kubeconfig(), "api-resources"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "HOME": str(home)},
    )
    return result.stdout


@pytest.mark.parametrize(
    "key",
    ["aggregated/api", "aggregated/apis", "api", "apis", "api/v1"],
)
def test_root_documents_match_kube(server: Any, captured: dict[str, Any], key: str) -> None:
    assert documents(server)[key] == captured[key]


def test_every_group_version_matches_kube(server: Any, captured: dict[str, Any]) -> None:
    served = documents(server)
    expected = {k: v for k, v in captured.items() if k.startswith("apis/")}
    assert sorted(k for k in served if k.startswith("apis/")) == sorted(expected)
    for key, document in expected.items():
        assert served[key] == document, key


def test_kubectl_api_resources_prints_kubes_table(
    server: Any, captured: dict[str, Any], tmp_path: Path
) -> None:
    assert api_resources(server, tmp_path) == captured["kubectl api-resources"]


def test_both_servers_live(
    server: Any, apiserver_backend: str, captured: dict[str, Any], tmp_path: Path
) -> None:
    """With the real server at hand, the embedded one is compared with it directly."""
    if apiserver_backend != "kube":
        pytest.skip("compares with a live kube-apiserver under --apiserver=kube")
    with APIServer() as embedded:
        assert documents(embedded) == documents(server)
        assert api_resources(embedded, tmp_path / "embedded") == api_resources(
            server, tmp_path / "kube"
        )
