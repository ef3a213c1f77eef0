"""Raw HTTPS requests with exact header lines (repeated headers, odd casing, raw bytes)."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from constrained_impersonation.testing import APIServer


def request(
    server: APIServer,
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: Sequence[tuple[str, str | bytes]] = (),
    body: Any = None,
    content_type: str | None = "application/json",
) -> tuple[int, Any, http.client.HTTPMessage]:
    """Send one request; header values may be bytes (sent as is). Returns (status, JSON, headers)."""
    url = urlsplit(server.url)
    ctx = ssl.create_default_context(cafile=server.ca_file)
    conn = http.client.HTTPSConnection(
        url.hostname or "127.0.0.1", url.port, context=ctx, timeout=30
    )
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if token:
            conn.putheader("Authorization", f"Bearer {token}")
        for name, value in headers:
            conn.putheader(name, value)
        payload = b""
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            if content_type:
                conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(payload)))
        conn.putheader("Accept", "application/json")
        conn.endheaders(payload or None)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        return resp.status, data, resp.headers
    finally:
        conn.close()


def whoami(
    server: APIServer, token: str, headers: Sequence[tuple[str, str | bytes]] = ()
) -> tuple[int, Any]:
    """POST a SelfSubjectReview; (status, userInfo or Status)."""
    status, data, _ = request(
        server,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        token=token,
        headers=headers,
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    if status in (200, 201):
        return status, data["status"]["userInfo"]
    return status, data
