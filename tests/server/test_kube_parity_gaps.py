"""Behaviour the embedded server once approximated, pinned to what kube-apiserver v1.37.2 does.

Every test runs on both backends (``--apiserver=embedded|kube``) through the public harness.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def test_kubernetes_service_in_default(apiserver: Any) -> None:
    """kube's bootstrap controller writes ``default/kubernetes`` even with
    ``--endpoint-reconciler-type=none``: the first service IP, https 443 to the secure port."""
    status, service = apiserver.request("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert status == 200, service
    port = urlsplit(apiserver.url).port
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert service["spec"] == {
        "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": port}],
        "clusterIP": "10.96.0.1",
        "clusterIPs": ["10.96.0.1"],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    }
    assert service["status"] == {"loadBalancer": {}}
    [entry] = service["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == (
        "kube-apiserver",
        "Update",
        "v1",
    )
    assert set(entry["fieldsV1"]["f:spec"]) == {
        "f:clusterIP",
        "f:internalTrafficPolicy",
        "f:ipFamilyPolicy",
        "f:ports",
        "f:sessionAffinity",
        "f:type",
    }
    # The endpoints are left to the (disabled) reconciler: none exist.
    status, _ = apiserver.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    assert status == 404


_KUBEVIRT_APISERVICE = (
    Path(__file__).resolve().parents[1] / "deputy/manifests/kubevirt-apiservice.yaml"
)
_GADGETS = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.subresources.kubevirt.io"},
    "spec": {
        "group": "subresources.kubevirt.io",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def _wait_for(what: str, check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached after {timeout:.0f} s: {last}")


def test_deleting_the_stand_in_apiservice_keeps_a_crd_of_its_group(apiserver: Any) -> None:
    """The KubeVirt stand-in's APIService (``v1.subresources.kubevirt.io``) going away stops
    serving that group version only: a CRD's other version of the same group stays served."""
    apiserver.apply(_GADGETS, _KUBEVIRT_APISERVICE)
    gadgets = "/apis/subresources.kubevirt.io/v1beta1/namespaces/default/gadgets"
    status, body = apiserver.request(
        "DELETE", "/apis/apiregistration.k8s.io/v1/apiservices/v1.subresources.kubevirt.io"
    )
    assert status == 200, body

    def versions() -> tuple[bool, Any]:
        status, group = apiserver.request("GET", "/apis/subresources.kubevirt.io")
        served = [v["version"] for v in group.get("versions", ())] if status == 200 else []
        return served == ["v1beta1"], (status, group)

    _wait_for("only v1beta1 in discovery", versions)
    status, listing = apiserver.request("GET", "/apis/subresources.kubevirt.io/v1beta1")
    assert status == 200, listing
    assert [r["name"] for r in listing["resources"]] == ["gadgets"]
    gadget = {
        "apiVersion": "subresources.kubevirt.io/v1beta1",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "spec": {"size": 1},
    }
    status, created = apiserver.request("POST", gadgets, gadget)
    assert status == 201, created
    status, got = apiserver.request("GET", f"{gadgets}/g1")
    assert status == 200 and got["spec"] == {"size": 1}, got


_WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.parity.example.com"},
    "spec": {
        "group": "parity.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
_WIDGET_PATH = "/apis/parity.example.com/v1/namespaces/default/widgets"


def _create_widget(apiserver: Any, body: dict[str, Any]) -> tuple[int, Any]:
    """POST a widget, retrying while the CRD's handler is not yet installed (kube's lags a
    moment behind ``Established``)."""
    deadline = time.monotonic() + 20
    while True:
        status, created = apiserver.request("POST", _WIDGET_PATH, body)
        if status != 404 or time.monotonic() > deadline:
            return status, created
        time.sleep(0.05)


def _keys(obj: Any) -> Any:
    """Every map's keys in the order the server sent them (the decoded dicts keep it)."""
    if isinstance(obj, dict):
        return [(key, _keys(value)) for key, value in obj.items()]
    if isinstance(obj, list):
        return [_keys(item) for item in obj]
    return None


def test_custom_resource_maps_read_back_with_sorted_keys(apiserver: Any) -> None:
    """kube stores a custom resource as unstructured JSON, whose maps Go encodes with sorted
    keys: whatever order a create, merge patch or update sent, reads return sorted maps."""
    apiserver.apply(_WIDGETS)
    status, created = _create_widget(
        apiserver,
        {
            "apiVersion": "parity.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "labels": {"z": "1", "a": "2"}},
            "spec": {"zeta": 1, "alpha": {"y": 1, "b": 2}, "list": [{"z": 1, "a": 2}]},
            "zz": 1,
            "aa": 2,
        },
    )
    assert status == 201, created
    assert [k for k, _ in _keys(created)] == ["aa", "apiVersion", "kind", "metadata", "spec", "zz"]
    assert _keys(created["spec"]) == [
        ("alpha", [("b", None), ("y", None)]),
        ("list", [[("a", None), ("z", None)]]),
        ("zeta", None),
    ]
    status, patched = apiserver.request(
        "PATCH",
        f"{_WIDGET_PATH}/w",
        {"spec": {"mid": 3, "beta": {"q": 1, "c": 2}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status == 200, patched
    for status, body in (
        (200, patched),
        apiserver.request("GET", f"{_WIDGET_PATH}/w"),
    ):
        assert status == 200, body
        assert [k for k, _ in _keys(body["spec"])] == ["alpha", "beta", "list", "mid", "zeta"]
        assert [k for k, _ in _keys(body["spec"]["beta"])] == ["c", "q"]
        assert [k for k, _ in _keys(body["metadata"])] == sorted(body["metadata"])
        assert [k for k, _ in _keys(body["metadata"]["labels"])] == ["a", "z"]
    status, replaced = apiserver.request(
        "PUT", f"{_WIDGET_PATH}/w", {**patched, "spec": {"zz": 1, "aa": {"k": 1, "b": 1}}}
    )
    assert status == 200, replaced
    status, listed = apiserver.request("GET", _WIDGET_PATH)
    assert status == 200, listed
    for body in (replaced, listed["items"][0]):
        assert _keys(body["spec"]) == [("aa", [("b", None), ("k", None)]), ("zz", None)]


class _Watch:
    """A watch on the widgets, read on a thread: the event types until the server ends it."""

    def __init__(self, apiserver: Any) -> None:
        url = urlsplit(apiserver.url)
        context = ssl.create_default_context(cafile=str(apiserver.ca_file))
        self._conn = http.client.HTTPSConnection(
            url.hostname or "127.0.0.1", url.port, context=context, timeout=30
        )
        self._conn.request(
            "GET",
            f"{_WIDGET_PATH}?watch=1",
            headers={"Authorization": f"Bearer {apiserver.admin_token}"},
        )
        self._response = self._conn.getresponse()
        assert self._response.status == 200
        self.events: list[str] = []
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while line := self._response.readline():
                self.events.append(json.loads(line).get("type", ""))
        except OSError:
            pass
        finally:
            self.ended.set()

    def close(self) -> None:
        self._conn.close()


def _served_widgets(apiserver: Any) -> None:
    def listed() -> tuple[bool, Any]:
        status, body = apiserver.request("GET", _WIDGET_PATH)
        return status == 200, (status, body)

    _wait_for("widgets served", listed)


def _put_crd(apiserver: Any, change: Any) -> None:
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{_WIDGETS['metadata']['name']}"
    status, crd = apiserver.request("GET", path)
    assert status == 200, crd
    change(crd)
    status, body = apiserver.request("PUT", path, crd)
    assert status == 200, body


def test_crd_spec_change_ends_watches_a_label_does_not(apiserver: Any) -> None:
    """kube rebuilds a CRD's storage when its spec or accepted names change, and the open
    watches of its resources end; a metadata-only change (a label) keeps the storage."""
    apiserver.apply(_WIDGETS)
    _served_widgets(apiserver)
    watch = _Watch(apiserver)
    try:
        _put_crd(apiserver, lambda crd: crd["metadata"].setdefault("labels", {}).update(x="1"))
        assert not watch.ended.wait(2.5), "a label change ended the watch"

        def add_column(crd: dict[str, Any]) -> None:
            crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
            ]

        _put_crd(apiserver, add_column)
        assert watch.ended.wait(15), "the watch outlived the CRD's storage"
        assert watch.events == []
    finally:
        watch.close()


def test_crd_deletion_ends_watches(apiserver: Any) -> None:
    apiserver.apply(_WIDGETS)
    _served_widgets(apiserver)
    watch = _Watch(apiserver)
    try:
        status, body = apiserver.request(
            "DELETE",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{_WIDGETS['metadata']['name']}",
        )
        assert status == 200, body
        assert watch.ended.wait(15), "the watch outlived the CRD"
    finally:
        watch.close()


def test_list_at_resource_version_0_ignores_limit(apiserver: Any) -> None:
    """``resourceVersion=0`` is served from kube's watch cache, whole: ``limit`` is ignored
    (no ``continue``, no ``remainingItemCount``), with or without a selector."""
    for index in range(3):
        status, body = apiserver.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": f"page{index}", "labels": {"paged": "yes"}}},
        )
        assert status == 201, body
    base = "/api/v1/namespaces/default/configmaps"
    for query in ("resourceVersion=0&limit=1", "resourceVersion=0&limit=2&labelSelector=paged"):
        status, listed = apiserver.request("GET", f"{base}?{query}")
        assert status == 200, listed
        assert sorted(i["metadata"]["name"] for i in listed["items"]) == [
            "page0",
            "page1",
            "page2",
        ]
        assert set(listed["metadata"]) == {"resourceVersion"}, listed["metadata"]
    status, paged = apiserver.request("GET", f"{base}?limit=1&labelSelector=paged")
    assert status == 200, paged
    assert len(paged["items"]) == 1 and paged["metadata"].get("continue")


_YAML_DATA = {
    "y": "",
    "multi": "a\nb\n",
    "num": "1.5",
    "colon": "a: b",
    "star": "*x",
    "null": "null",
    "uni": "é ü",
    "on": "on",
    "long": "x " * 60,
    "tilde": "~",
}
_YAML_EXPECTED = """apiVersion: v1
data:
  colon: 'a: b'
  long: 'x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x
    x x x x x x x x x x x x x x x x x x x x x x x '
  multi: |
    a
    b
  "null": "null"
  num: "1.5"
  "on": "on"
  star: '*x'
  tilde: "~"
  uni: é ü
  "y": ""
kind: ConfigMap
metadata:
"""


def test_yaml_output_as_kube_writes_it(apiserver: Any) -> None:
    """``Accept: application/yaml``: JSON through go-yaml v2, so sorted keys, double quotes
    for strings YAML 1.1 would read as another type, literal blocks for multi-line text."""
    status, body = apiserver.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "yaml", "labels": {"b": "1", "a": "true"}}, "data": _YAML_DATA},
    )
    assert status == 201, body
    status, text = apiserver.request(
        "GET", "/api/v1/namespaces/default/configmaps/yaml", headers={"Accept": "application/yaml"}
    )
    assert status == 200, text
    assert isinstance(text, str)
    assert text.startswith(_YAML_EXPECTED), text
    assert '  labels:\n    a: "true"\n    b: "1"\n' in text


def test_json_patch_that_does_not_apply_is_a_generic_422(apiserver: Any) -> None:
    """kube answers an RFC 6902 patch that fails to apply (a failed ``test``, a missing path,
    an unknown ``op``) with ``NewGenericServerResponse``: the library's text is not kept."""
    status, body = apiserver.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "jp"}, "data": {"z": "1"}},
    )
    assert status == 201, body
    for patch in (
        [{"op": "test", "path": "/data/z", "value": "9"}],
        [{"op": "remove", "path": "/data/nope"}],
        [{"op": "add", "path": "/nope/x", "value": "x"}],
        [{"op": "bogus", "path": "/data"}],
    ):
        status, body = apiserver.request(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/jp",
            patch,
            headers={"Content-Type": "application/json-patch+json"},
        )
        assert (status, body) == (
            422,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "the server rejected our request due to an error in our request",
                "reason": "Invalid",
                "details": {},
                "code": 422,
            },
        ), patch
