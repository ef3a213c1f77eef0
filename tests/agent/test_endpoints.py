"""The agent's HTTP endpoints over a real socket: status codes, bodies, caching, metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from node_agent.endpoints import Endpoints, HealthState, parse_listen
from node_agent.inventory import Inventory
from node_agent.metrics import Metrics


@pytest.fixture
def served() -> Iterator[tuple[Endpoints, Inventory, dict[str, bool]]]:
    inventory = Inventory("node-a")
    metrics = Metrics(
        pods_known=lambda: float(len(inventory)), ready=lambda: float(inventory.synced)
    )
    state = {"alive": True}
    health = HealthState(
        alive=lambda: state["alive"], ready=lambda: inventory.synced, detail=lambda: "listing"
    )
    endpoints = Endpoints(("127.0.0.1", 0), inventory, metrics, health)
    endpoints.start()
    yield endpoints, inventory, state
    endpoints.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_not_ready_and_no_inventory_before_the_first_list(
    served: tuple[Endpoints, Inventory, dict[str, bool]],
) -> None:
    endpoints, _, _ = served
    assert get(endpoints.url + "/healthz")[0] == 200
    status, _, body = get(endpoints.url + "/readyz")
    assert status == 503 and b"listing" in body
    assert get(endpoints.url + "/pods")[0] == 503, "an empty list would mean 'no pods here'"


def test_pods_document_etag_and_readiness_after_the_first_list(
    served: tuple[Endpoints, Inventory, dict[str, bool]],
) -> None:
    endpoints, inventory, _ = served
    inventory.replace(
        [{"metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "5"}}],
        "5",
    )
    assert get(endpoints.url + "/readyz")[0] == 200
    status, headers, body = get(endpoints.url + "/pods")
    assert status == 200 and headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["node"] == "node-a" and document["resourceVersion"] == "5"
    assert [(p["namespace"], p["name"], p["uid"]) for p in document["pods"]] == [
        ("shop", "web", "u1")
    ]
    assert get(endpoints.url + "/pods", {"If-None-Match": headers["ETag"]})[0] == 304
    inventory.apply("DELETED", {"metadata": {"name": "web", "namespace": "shop"}})
    status, _, body = get(endpoints.url + "/pods", {"If-None-Match": headers["ETag"]})
    assert status == 200 and json.loads(body)["pods"] == []


def test_metrics_are_prometheus_text(
    served: tuple[Endpoints, Inventory, dict[str, bool]],
) -> None:
    endpoints, inventory, _ = served
    inventory.replace([{"metadata": {"name": "a", "namespace": "n"}}], "1")
    status, headers, body = get(endpoints.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "# TYPE cimp_agent_pods gauge\ncimp_agent_pods 1\n" in text
    assert "cimp_agent_ready 1" in text
    assert "# TYPE cimp_agent_api_request_duration_seconds histogram" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def test_liveness_fails_when_the_sync_thread_died_and_unknown_paths_are_404(
    served: tuple[Endpoints, Inventory, dict[str, bool]],
) -> None:
    endpoints, _, state = served
    state["alive"] = False
    assert get(endpoints.url + "/healthz")[0] == 500
    assert get(endpoints.url + "/secrets")[0] == 404


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9102") == ("127.0.0.1", 9102)
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen(":9103") == ("0.0.0.0", 9103)
    for bad in ("9102", "host:", "host:99999", "host:http"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)
