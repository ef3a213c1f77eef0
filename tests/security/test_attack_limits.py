"""Exhausting the server's memory or CPU through one client's requests.

kube bounds what one request can cost: bodies of 3 MiB, objects of etcd's 1.5 MiB request
limit (so patches cannot grow an object without end), CRD patterns matched by RE2 in linear
time. The embedded server answers each attack as kube does, and stays responsive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ._attack import MERGE, Server, call, crd, create_crd

BLOBS = "/apis/example.com/v1/namespaces/default/blobs"
TOO_LARGE = "etcdserver: request is too large"


@pytest.fixture
def server(apiserver: Server) -> Iterator[Server]:
    yield apiserver


def _blob(name: str, size: int) -> bytes:
    doc = {
        "apiVersion": "example.com/v1",
        "kind": "Blob",
        "metadata": {"name": name},
        "data": {"a": "x" * size},
    }
    return json.dumps(doc).encode()


def test_an_object_cannot_grow_without_bound(server: Server) -> None:
    create_crd(server, crd("example.com", "blobs", "Blob"))
    status, body = call(server, "POST", BLOBS, _blob("big", 1_800_000))
    assert (status, body["message"]) == (500, TOO_LARGE), body
    assert "reason" not in body
    status, body = call(server, "POST", BLOBS, _blob("grows", 1_000_000))
    assert status == 201, str(body)[:300]
    # Patch after patch, each under the request limit, would grow it without end.
    patch = json.dumps({"data": {"b": "y" * 700_000}}).encode()
    status, body = call(server, "PATCH", f"{BLOBS}/grows", patch, content_type=MERGE)
    assert (status, body["message"]) == (500, TOO_LARGE), str(body)[:300]
    status, body = call(server, "GET", f"{BLOBS}/grows")
    assert status == 200
    assert set(body["data"]) == {"a"}
