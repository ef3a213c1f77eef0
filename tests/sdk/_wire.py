"""A tiny raw-socket HTTP/1.1 server that records exactly what arrives on the wire.

Tests of the session transport need the header *lines* as sent (repeated lines, raw UTF-8
bytes), which no framework server exposes faithfully. Each connection serves one request and
closes; responses come from a handler function or a scripted queue.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._tls import serving_files


@dataclass
class Request:
    method: str
    target: str
    lines: list[tuple[bytes, bytes]]  # header lines, in order, raw bytes
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def header_lines(self, name: str) -> list[bytes]:
        wanted = name.lower().encode()
        return [value for key, value in self.lines if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        values = self.header_lines(name)
        return values[0].decode("latin-1") if values else None

    def text_lines(self) -> list[tuple[str, str]]:
        """Header lines decoded the way kube-apiserver (Go) sees them: raw bytes as UTF-8."""
        return [(k.decode("latin-1"), v.decode("utf-8")) for k, v in self.lines]


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b"{}"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, **headers: str) -> Response:
        merged = {"Content-Type": "application/json"}
        merged.update({k.replace("_", "-"): v for k, v in headers.items()})
        return cls(status, json.dumps(obj).encode(), merged)


Handler = Callable[[Request], Response]

_REASONS = {
    200: "OK",
    201: "Created",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many",
}


def empty_list(kind: str = "PodList") -> dict[str, Any]:
    return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}


def status_body(code: int, message: str, reason: str = "Forbidden") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class WireServer:
    """Records every request; answers with ``handler`` or, if scripted, the next response."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        tls: tuple[Path, Path] | None = None,
        listen: bool = True,
    ) -> None:
        self.handler = handler or (lambda req: Response.json(200, empty_list()))
        self.script: list[Response] = []
        self.requests: list[Request] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._tls: ssl.SSLContext | None = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(str(tls[0]), str(tls[1]))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if listen:
            self.listen()

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def listen(self) -> None:
        """Start accepting (a bound socket that is not listening refuses connections)."""
        if self._thread is not None:
            return
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> WireServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        conn: socket.socket = raw
        try:
            conn.settimeout(10)
            if self._tls is not None:
                conn = self._tls.wrap_socket(raw, server_side=True)
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
                response = self.script.pop(0) if self.script else None
            if response is None:
                response = self.handler(request)
            self._write_response(conn, response)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        request_line, *header_lines = head.split(b"\r\n")
        method, target, _version = request_line.decode("latin-1").split(" ", 2)
        lines: list[tuple[bytes, bytes]] = []
        for line in header_lines:
            name, _, value = line.partition(b":")
            lines.append((name.strip(), value.strip(b" \t")))
        headers = {k.lower(): v for k, v in lines}
        body = rest
        if b"content-length" in headers:
            length = int(headers[b"content-length"])
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while not body.endswith(b"0\r\n\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
        return Request(method, target, lines, body)

    @staticmethod
    def _write_response(conn: socket.socket, response: Response) -> None:
        reason = _REASONS.get(response.status, "Status")
        head = [f"HTTP/1.1 {response.status} {reason}"]
        for name, value in response.headers.items():
            head.append(f"{name}: {value}")
        head.append("Connection: close")
        if isinstance(response.body, bytes):
            head.append(f"Content-Length: {len(response.body)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            return
        head.append("Transfer-Encoding: chunked")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for piece in response.body:
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.sendall(b"0\r\n\r\n")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (chain with its CA: also the client's trust bundle) and key."""
    return serving_files(directory)


def api_client(url: str, token: str = "requestor-token", ca_file: str | None = None) -> Any:
    """A plain ``kubernetes.client.ApiClient`` for ``url`` with a bearer token."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    cfg.api_key["BearerToken"] = token
    cfg.api_key_prefix["BearerToken"] = "Bearer"
    if ca_file is not None:
        cfg.ssl_ca_cert = ca_file
    return client.ApiClient(cfg)
