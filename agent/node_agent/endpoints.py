"""The agent's HTTP endpoints: ``/pods``, ``/healthz``, ``/readyz``, ``/metrics``.

The standard library's threading HTTP server is enough for node-local consumers and kubelet
probes, and costs no extra dependency or memory. Bodies are pre-rendered by the inventory, so
a request does no JSON work. ``/pods`` answers ``If-None-Match`` with 304, so consumers can
poll cheaply.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .inventory import Inventory
from .metrics import CONTENT_TYPE, Metrics

__all__ = ["Endpoints", "HealthState", "parse_listen"]

_PATHS = ("/pods", "/healthz", "/readyz", "/metrics")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces) to a bind address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9102, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)  # noqa: S104 - ":port" asks for all interfaces


@dataclass
class HealthState:
    """What the probes report, as callbacks into the running agent."""

    alive: Callable[[], bool]
    ready: Callable[[], bool]
    detail: Callable[[], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class Endpoints:
    """One listening socket serving ``paths`` (a subset of the four endpoints)."""

    def __init__(
        self,
        listen: tuple[str, int],
        inventory: Inventory,
        metrics: Metrics,
        health: HealthState,
        paths: tuple[str, ...] = _PATHS,
    ) -> None:
        self.inventory = inventory
        self.metrics = metrics
        self.health = health
        self.paths = frozenset(paths)
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "cimp-node-agent"
            sys_version = ""
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                endpoints.handle(self, head=False)

            def do_HEAD(self) -> None:
                endpoints.handle(self, head=True)

            def log_message(self, format: str, *args: object) -> None:
                return  # probes every few seconds would flood the logs; see the metrics

        self._server = _Server(listen, Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"cimp-http-{listen[1]}",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ handling

    def handle(self, request: BaseHTTPRequestHandler, *, head: bool) -> None:
        path = request.path.split("?", 1)[0]
        if path not in self.paths:
            self._reply(request, HTTPStatus.NOT_FOUND, b"not found\n", head=head, path="other")
            return
        if path == "/pods":
            if not self.inventory.synced:
                # An empty list here would read as "no pods on this node": refuse instead.
                body = b"not synced yet: " + self.health.detail().encode() + b"\n"
                self._reply(request, HTTPStatus.SERVICE_UNAVAILABLE, body, head=head, path=path)
                return
            rendering = self.inventory.render()
            if request.headers.get("If-None-Match") == rendering.etag:
                self._reply(
                    request,
                    HTTPStatus.NOT_MODIFIED,
                    b"",
                    head=True,
                    path=path,
                    etag=rendering.etag,
                )
                return
            self._reply(
                request,
                HTTPStatus.OK,
                rendering.data,
                head=head,
                path=path,
                content_type="application/json",
                etag=rendering.etag,
            )
        elif path == "/metrics":
            self._reply(
                request,
                HTTPStatus.OK,
                self.metrics.render(),
                head=head,
                path=path,
                content_type=CONTENT_TYPE,
            )
        elif path == "/healthz":
            if self.health.alive():
                self._reply(request, HTTPStatus.OK, b"ok\n", head=head, path=path)
            else:
                body = b"pod sync thread stopped: " + self.health.detail().encode() + b"\n"
                self._reply(request, HTTPStatus.INTERNAL_SERVER_ERROR, body, head=head, path=path)
        elif self.health.ready():
            self._reply(request, HTTPStatus.OK, b"ok\n", head=head, path=path)
        else:
            body = b"waiting for the first complete pod list: " + self.health.detail().encode()
            self._reply(request, HTTPStatus.SERVICE_UNAVAILABLE, body + b"\n", head=head, path=path)

    def _reply(
        self,
        request: BaseHTTPRequestHandler,
        status: HTTPStatus,
        body: bytes,
        *,
        head: bool,
        path: str,
        content_type: str = "text/plain; charset=utf-8",
        etag: str = "",
    ) -> None:
        self.metrics.http_requests.inc(path=path, code=str(int(status)))
        request.send_response(status)
        if status != HTTPStatus.NOT_MODIFIED:
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
        if etag:
            request.send_header("ETag", etag)
        request.send_header("Cache-Control", "no-store")
        request.send_header("X-Content-Type-Options", "nosniff")
        request.end_headers()
        if not head and body:
            request.wfile.write(body)
