"""Pods with huge label sets cannot blow up the agent: what it keeps per Pod is bounded.

Kubernetes bounds each label, not how many a Pod has; before the bound, 110 Pods with 1 MiB of
labels each took the agent from 53 MB to 370 MB resident (665 MB peak) and ``/pods`` to 122 MB
(``bench/agent_labels.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from node_agent.config import parse_args
from node_agent.inventory import Inventory
from node_agent.manifests import raw_request
from node_agent.projection import DEFAULT_MAX_LABEL_BYTES, LabelPolicy, project
from node_agent.sandbox import pod_manifest

from .conftest import NODE_A, Live, eventually, http_get

MIB = 1024 * 1024


def huge_labels(total: int = MIB, tag: str = "a") -> dict[str, str]:
    """Valid labels (63-character values) adding up to ``total`` bytes of keys and values."""
    labels = {"app": "huge"}
    size = 0
    i = 0
    while size < total:
        key, value = f"huge.example.com/k{i:06d}", f"{tag}{i:06d}".ljust(63, "x")
        labels[key] = value
        size += len(key) + len(value)
        i += 1
    return labels


def _labels_bytes(view: dict[str, object]) -> int:
    return len(json.dumps(view["labels"], separators=(",", ":")))


def _pod(name: str, labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels}}


# --------------------------------------------------------------------------- the policy


def test_ordinary_labels_are_kept_whole_and_unmarked() -> None:
    labels = {"app.kubernetes.io/name": "web", "pod-template-hash": "5d9c7b", "tier": "front"}
    view = project(_pod("web", labels))
    assert view["labels"] == labels and "labelsOmitted" not in view


def test_huge_labels_are_cut_to_the_bound_in_key_order_and_marked() -> None:
    labels = huge_labels()
    view = project(_pod("huge", labels))
    kept = view["labels"]
    assert _labels_bytes(view) <= DEFAULT_MAX_LABEL_BYTES + 2
    assert _labels_bytes(view) > DEFAULT_MAX_LABEL_BYTES - 200  # filled, not emptied
    assert list(kept) == sorted(labels)[: len(kept)], "a prefix of the keys in order"
    assert all(labels[k] == v for k, v in kept.items())
    assert view["labelsOmitted"] == len(labels) - len(kept)
    # Escaped characters count as they are published.
    quoted = project(_pod("q", {f'k{i:04d}"': "\u00e9" * 60 for i in range(500)}))
    assert _labels_bytes(quoted) <= DEFAULT_MAX_LABEL_BYTES + 2 and quoted["labelsOmitted"]


@pytest.mark.parametrize("bound", [0, 1, 100, 4096, 65536])
def test_any_bound_holds(bound: int) -> None:
    view = project(_pod("huge", huge_labels(200_000)), LabelPolicy(bound))
    assert _labels_bytes(view) <= bound + 2
    assert view["labelsOmitted"] == len(huge_labels(200_000)) - len(view["labels"])


def test_allow_list_keeps_only_listed_keys_and_prefixes_without_marking() -> None:
    labels = {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/part-of": "shop",
        "team": "blue",
        "secret-ish": "x",
    } | huge_labels(MIB)
    policy = LabelPolicy.of(DEFAULT_MAX_LABEL_BYTES, ["app.kubernetes.io/*", "team", "team"])
    assert policy.keys == ("app.kubernetes.io/*", "team")
    view = project(_pod("web", labels), policy)
    assert view["labels"] == {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/part-of": "shop",
        "team": "blue",
    }
    assert "labelsOmitted" not in view, "left out by configuration, not cut"


@pytest.mark.parametrize(
    ("max_bytes", "keys", "message"),
    [
        (-1, (), "between 0 and 1572864"),
        (2 * MIB, (), "between 0 and 1572864"),
        (100, ("",), "label key ''"),
        (100, ("a b",), "label key 'a b'"),
        (100, ("*x",), "label key '*x'"),
    ],
)
def test_invalid_policies_name_the_value(
    max_bytes: int, keys: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LabelPolicy(max_bytes, keys)


def test_flags_and_environment_configure_the_bound() -> None:
    assert parse_args([], environ={}).labels == LabelPolicy()
    env = {"CIMP_AGENT_MAX_LABEL_BYTES": "2048", "CIMP_AGENT_LABEL_KEYS": "app, team ,"}
    assert parse_args([], environ=env).labels == LabelPolicy(2048, ("app", "team"))
    flags = parse_args(["--max-label-bytes", "0", "--label-key", "k8s.io/*"], environ=env)
    assert flags.labels == LabelPolicy(0, ("k8s.io/*",))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-label-bytes", "2000000"], "between 0 and 1572864"),
        (["--label-key", "bad key"], "label key 'bad key'"),
    ],
)
def test_invalid_bound_exits_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(args, environ={})
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_inventory_counts_pods_whose_labels_were_cut() -> None:
    inventory = Inventory("node-a", LabelPolicy(1024))
    inventory.replace([_pod("a", huge_labels(10_000)), _pod("b", {"app": "b"})], "1")
    assert inventory.labels_omitted() == 1
    inventory.apply("MODIFIED", _pod("a", {"app": "a"}))
    assert inventory.labels_omitted() == 0


# --------------------------------------------------------------------------- against the server


def _list_limits(live: Live, since: int) -> list[int]:
    """``limit`` of every list request the agent sent (from the server's audit log)."""
    limits = []
    for event in live.server.audit_events()[since:]:
        if event["verb"] != "list" or event["stage"] != "ResponseComplete":
            continue
        query = parse_qs(urlsplit(event["requestURI"]).query)
        if query.get("fieldSelector") == [f"spec.nodeName={NODE_A}"] and "limit" in query:
            limits.append(int(query["limit"][0]))
    return limits


def test_pods_with_1_mib_of_labels_stay_under_the_bound_in_pods_and_the_file(
    live: Live, tmp_path: Path
) -> None:
    for k in range(6):  # listed at start: six huge Pods do not fit one 4 MiB page
        live.cluster.create_pod(pod_manifest(f"huge-{k}", "shop", NODE_A, labels=huge_labels()))
    mark = len(live.server.audit_events())
    output = tmp_path / "pods.json"
    agent = live.start_agent(output=output)
    # Paged by bytes: a first page of 4 Pods (two of them huge), then as many as fit 4 MiB at
    # the first page's average (7), not 500.
    limits = _list_limits(live, mark)
    assert limits[0] == 4 and 1 <= limits[1] <= 8, limits

    # One more through the watch (ADDED), and one turned huge by an update (MODIFIED).
    live.cluster.create_pod(pod_manifest("huge-late", "shop", NODE_A, labels=huge_labels(tag="b")))
    path = "/api/v1/namespaces/shop/pods/web-a0"
    status, current = raw_request(live.cluster.admin, "GET", path)
    assert status == 200
    current["metadata"]["labels"] = huge_labels(tag="c")
    assert raw_request(live.cluster.admin, "PUT", path, current)[0] == 200

    def huge_views() -> dict[str, dict[str, object]] | None:
        status, body = http_get(agent.url + "/pods")
        pods = {p["name"]: p for p in json.loads(body)["pods"]} if status == 200 else {}
        names = {f"huge-{k}" for k in range(6)} | {"huge-late", "web-a0"}
        views = {n: pods[n] for n in names if n in pods}
        done = len(views) == len(names) and views["web-a0"].get("labelsOmitted")
        return views if done else None

    views = eventually(huge_views, what="every huge pod in /pods")
    document = http_get(agent.url + "/pods")[1]
    for name, view in views.items():
        assert _labels_bytes(view) <= DEFAULT_MAX_LABEL_BYTES + 2, name
        assert int(view["labelsOmitted"]) > 10_000, name  # type: ignore[call-overload]
        assert view["labels"]["app"] == "huge", "key order: 'app' sorts first"  # type: ignore[index]
        assert len(json.dumps(view)) < DEFAULT_MAX_LABEL_BYTES + 1024, name
    # The whole document: the node's Pods at no more than the bound plus 1 KiB each.
    pods = json.loads(document)["pods"]
    assert len(document) < len(pods) * (DEFAULT_MAX_LABEL_BYTES + 1024)
    metrics = http_get(agent.url + "/metrics")[1].decode()
    assert "cimp_agent_pods_labels_omitted 8" in metrics

    def written() -> list[dict[str, object]] | None:
        if not output.exists():
            return None
        pods = json.loads(output.read_text())["pods"]
        return pods if sum(1 for p in pods if p.get("labelsOmitted")) == 8 else None

    in_file = eventually(written, what="the file follows")
    assert all(_labels_bytes(p) <= DEFAULT_MAX_LABEL_BYTES + 2 for p in in_file)
    assert output.stat().st_size < len(in_file) * (DEFAULT_MAX_LABEL_BYTES + 1024)
