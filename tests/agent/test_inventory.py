"""What consumers read: the slim projection, atomic relists, the /pods document."""

from __future__ import annotations

import json
from typing import Any

from node_agent.inventory import Inventory
from node_agent.projection import project


def pod(name: str, ns: str = "default", rv: str = "1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-{ns}-{name}",
            "resourceVersion": rv,
            "labels": {"app": name},
            "annotations": {"big": "x" * 2000},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": "main", "image": "nginx"}, {"name": "sidecar", "image": "x"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "hostNetwork": False,
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        },
    }
    body.update(extra)
    return body


def test_projection_keeps_what_a_cni_plugin_needs_and_nothing_else() -> None:
    view = project(pod("web"))
    assert view == {
        "namespace": "default",
        "name": "web",
        "uid": "uid-default-web",
        "phase": "Running",
        "podIPs": ["10.0.0.5", "fd00::5"],
        "hostNetwork": False,
        "labels": {"app": "web"},
        "containers": ["main", "sidecar"],
        "initContainers": ["init"],
        "resourceVersion": "1",
    }
    assert len(json.dumps(view)) < len(json.dumps(pod("web"))) / 5


def test_projection_of_a_pending_pod_without_status() -> None:
    view = project({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}})
    assert view["podIPs"] == [] and view["phase"] == "" and view["containers"] == []
    only_pod_ip = project({"metadata": {"name": "p"}, "status": {"podIP": "10.1.1.1"}})
    assert only_pod_ip["podIPs"] == ["10.1.1.1"]


def test_relist_replaces_atomically_without_losing_or_duplicating() -> None:
    inventory = Inventory("node-a")
    assert not inventory.synced
    inventory.replace([pod("a"), pod("b"), pod("c")], "10")
    assert inventory.synced and inventory.keys() == {"default/a", "default/b", "default/c"}

    # While the watch was broken: b was deleted, d created, a changed.
    added, removed = inventory.replace(
        [pod("a", rv="12", status={"phase": "Succeeded"}), pod("c"), pod("d")], "15"
    )
    assert (added, removed) == (1, 1)
    assert [p["name"] for p in inventory.pods()] == ["a", "c", "d"]
    assert inventory.pods()[0]["phase"] == "Succeeded"
    assert inventory.resource_version == "15"


def test_watch_events_apply_in_order_and_replays_do_not_duplicate() -> None:
    inventory = Inventory("node-a")
    inventory.replace([], "1")
    inventory.apply("ADDED", pod("a", rv="2"))
    inventory.apply("ADDED", pod("a", rv="2"))  # replayed after a reconnect
    inventory.apply("MODIFIED", pod("a", rv="3", status={"phase": "Failed"}))
    inventory.apply("ADDED", pod("b", ns="kube-system", rv="4"))
    assert len(inventory) == 2
    assert inventory.resource_version == "4"
    inventory.apply("DELETED", pod("a", rv="5"))
    inventory.apply("DELETED", pod("a", rv="5"))  # replayed delete is harmless
    assert inventory.keys() == {"kube-system/b"}
    inventory.bookmark("9")
    assert inventory.resource_version == "9"


def test_rendering_is_the_documented_document_and_cached_per_version() -> None:
    inventory = Inventory("node-a")
    inventory.replace([pod("b"), pod("a", ns="zz"), pod("a")], "7")
    first = inventory.render()
    document = json.loads(first.data)
    assert set(document) == {"node", "resourceVersion", "pods"}
    assert document["node"] == "node-a" and document["resourceVersion"] == "7"
    assert [(p["namespace"], p["name"]) for p in document["pods"]] == [
        ("default", "a"),
        ("default", "b"),
        ("zz", "a"),
    ]
    assert inventory.render() is first
    inventory.apply("DELETED", pod("b", rv="8"))
    second = inventory.render()
    assert second.version > first.version and second.etag != first.etag
