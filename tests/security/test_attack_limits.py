"""Exhausting the server's memory or CPU through one client's requests.

kube bounds what one request can cost: bodies of 3 MiB, objects of etcd's 1.5 MiB request
limit (so patches cannot grow an object without end), CRD patterns matched by RE2 in linear
time. The embedded server answers each attack as kube does, and stays responsive.
"""

from __future__ import annotations

import json
import random
import time
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


def test_a_crd_pattern_cannot_stall_the_server(server: Server) -> None:
    """kube matches a schema's ``pattern`` with RE2, linear in the value's length; a
    backtracking matcher takes exponential time on ``^(a+)+$`` and a value that almost
    matches (2**n steps: n = 27 is seconds, n = 40 days, while nothing else is served)."""
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"v": {"type": "string", "pattern": "^(a+)+$"}},
            }
        },
    }
    create_crd(server, crd("example.com", "evils", "Evil", schema=schema))
    warm = {"apiVersion": "example.com/v1", "kind": "Evil", "metadata": {"name": "warm"}}
    path = "/apis/example.com/v1/namespaces/default/evils"
    # kube builds a CRD's handler on its first request: time the attack alone
    assert call(server, "POST", path, warm)[0] == 201
    value = "a" * 27 + "!"
    evil = {
        "apiVersion": "example.com/v1",
        "kind": "Evil",
        "metadata": {"name": "e"},
        "spec": {"v": value},
    }
    started = time.monotonic()
    status, body = call(server, "POST", path, evil)
    elapsed = time.monotonic() - started
    assert status == 422, body
    assert body["message"] == (
        f'Evil.example.com "e" is invalid: spec.v: Invalid value: "{value}": spec.v in body '
        "should match '^(a+)+$'"
    )
    assert elapsed < 1.0, f"matching one 28-character value took {elapsed:.1f} s"


def _pattern(rng: random.Random, depth: int = 0) -> str:
    atoms = ["a", "b", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", r"\b", r"\B", "^", "$",
             "(?i:A)", "(?s:.)", r"\n", r"\pL", "[[:alpha:]]", "(?m:^)", "(?m:$)", "_",
             r"\A", r"\z", "é", "(?i:s)", "(?i:[k-l])", "\u017f"]  # fmt: skip
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(atoms)
    if roll < 0.55:
        return _pattern(rng, depth + 1) + _pattern(rng, depth + 1)
    if roll < 0.7:
        return f"({_pattern(rng, depth + 1)}|{_pattern(rng, depth + 1)})"
    if roll < 0.85:
        return f"(?:{_pattern(rng, depth + 1)})" + rng.choice(["*", "+", "?", "{2}", "{1,3}"])
    return f"(?i:{_pattern(rng, depth + 1)})"


def test_linear_search_answers_as_re_does() -> None:
    """The linear matcher agrees with ``re`` wherever ``re`` finishes (Unicode case folding,
    multi-line anchors, ASCII word boundaries, empty loops), and stays linear where ``re``
    does not."""
    from cimp_apiserver.crd import linear
    from cimp_apiserver.crd.regex import GoRegexError, compile_go

    rng = random.Random(5284)
    alphabet = "abAB \n_1\u00e9Kk\u017fsS\u212a"
    checked = 0
    for _ in range(3000):
        try:
            compiled = compile_go(_pattern(rng))
        except GoRegexError:
            continue
        for _ in range(4):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
            expected = compiled.search(text) is not None
            assert linear.search(compiled, text) is expected, (compiled.pattern, text)
            checked += 1
    assert checked > 10_000
    started = time.monotonic()
    assert not linear.search(compile_go("^(a+)+$"), "a" * 100_000 + "!")
    assert time.monotonic() - started < 5
