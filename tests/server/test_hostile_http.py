"""Hostile input over the wire: every bad request gets a Status (or an HTTP 400), never a 500,
a crash or a hang, and the server keeps serving.

Raw TLS sockets send exactly the bytes under test (header injection attempts, non-UTF-8,
10,000 groups, huge values, malformed JSON); hypothesis generates the header lines.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constrained_impersonation.testing import APIServer

from ._raw import request, whoami


@pytest.fixture(scope="module")
def server() -> Iterator[APIServer]:
    with APIServer() as s:
        yield s


def send(server: APIServer, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes on a fresh TLS connection; (status code, body) of the answer."""
    ctx = ssl.create_default_context(cafile=server.ca_file)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def get_request(
    server: APIServer, header_lines: bytes, path: bytes = b"/api/v1/namespaces/default"
) -> bytes:
    return (
        b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Authorization: Bearer " + server.admin_token.encode() + b"\r\n" + header_lines + b"\r\n"
    )


def assert_status_body(status: int, body: bytes) -> None:
    assert status not in (0, 500), (status, body[:300])
    if status >= 400 and body.startswith(b"{"):
        doc = json.loads(body)
        assert doc["kind"] == "Status" and doc["code"] == status


def test_crlf_injection_cannot_add_a_group(server: APIServer) -> None:
    # A CR/LF inside a value ends the header; the "injected" line is just another header
    # from the same client, and it is the client who must refuse such values (the SDK does).
    status, body = send(server, get_request(server, b"Impersonate-User: bob\r\n"))
    assert status == 403  # admin impersonates bob; bob may not read the namespace
    assert b'User \\"bob\\"' in body or b'User "bob"' in body


def test_ten_thousand_groups_are_answered(server: APIServer) -> None:
    lines = b"Impersonate-User: bob\r\n" + b"".join(
        b"Impersonate-Group: g%d\r\n" % i for i in range(10_000)
    )
    status, body = send(server, get_request(server, lines))
    assert status == 403 and b"bob" in body


def test_one_mib_value_and_non_utf8_bytes(server: APIServer) -> None:
    status, body = send(
        server, get_request(server, b"Impersonate-User: " + b"a" * (1 << 20) + b"\r\n")
    )
    assert_status_body(status, body)
    status, body = send(
        server,
        get_request(
            server, b"Impersonate-User: \xff\xfe\x80\r\nImpersonate-Extra-a%ff%zz: \xc3\r\n"
        ),
    )
    assert_status_body(status, body)
    assert status == 403


@pytest.mark.parametrize(
    "payload",
    [
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":1e999}}',
        b'{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"' + b"x" * 300 + b'"}}',
    ],
)
def test_malformed_json_bodies_get_a_client_error(server: APIServer, payload: bytes) -> None:
    head = (
        b"POST /api/v1/namespaces HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + server.admin_token.encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(payload)
    )
    status, body = send(server, head + payload)
    assert 400 <= status < 500, (status, body[:200])
    assert_status_body(status, body)


def test_body_over_3_mib_is_413(server: APIServer) -> None:
    payload = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"'
        + b"x" * (3 * 1024 * 1024 + 10)
        + b'"}}'
    )
    head = (
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer "
        + server.admin_token.encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(payload)
    )
    status, body = send(server, head + payload)
    assert status == 413
    assert_status_body(status, body)


_header_value = st.binary(min_size=0, max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
)
_header_name = st.sampled_from(
    [
        b"Impersonate-User",
        b"Impersonate-Group",
        b"Impersonate-Uid",
        b"impersonate-extra-",
        b"Impersonate-Extra-example.com%2F",
        b"IMPERSONATE-EXTRA-%",
    ]
).flatmap(
    lambda prefix: st.text("abcXYZ%/._-~09", max_size=8).map(
        lambda suffix: (
            prefix + suffix.encode() if prefix.lower().endswith((b"-", b"%2f", b"%")) else prefix
        )
    )
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_header_name, _header_value), max_size=8))
def test_fuzzed_impersonation_headers_never_break_the_server(
    server: APIServer, lines: list[tuple[bytes, bytes]]
) -> None:
    block = b"".join(name + b": " + value + b"\r\n" for name, value in lines)
    status, body = send(server, get_request(server, block))
    assert status in (200, 400, 403), (status, body[:300])
    assert_status_body(status, body)


def test_server_still_serves_after_the_abuse(server: APIServer) -> None:
    status, info = whoami(server, server.admin_token)
    assert status == 201 and info["username"] == "kubernetes-admin"
    assert request(server, "GET", "/readyz", token=server.admin_token)[0] == 200
