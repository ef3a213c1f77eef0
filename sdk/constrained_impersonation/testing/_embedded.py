"""An embedded, faithful Kubernetes API server for tests: TLS, tokens, RBAC, impersonation.

>>> from constrained_impersonation.testing import APIServer
>>> with APIServer() as server:                       # doctest: +SKIP
...     token = server.add_user("alice", groups=["dev"])
...     client = server.api_client(token)               # a kubernetes.client.ApiClient

The server runs on its own event loop in a background thread, serves HTTPS on 127.0.0.1 with
a CA it generates (``.ca_file``), and behaves like kube-apiserver v1.37.2 for authentication,
legacy and constrained impersonation, RBAC and the Node authorizer, audit, and list/watch.
"""

# ruff: noqa: E402  (the server imports come after the check that names the missing extra)
from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._testing_extra import require_server

require_server()

from cimp_apiserver.authn import StaticTokens
from cimp_apiserver.certs import ServingCerts, load_or_create
from cimp_apiserver.config import ServerConfig, parse_feature_gates

from .._private_files import private_dir, write_private
from ..identity import SYSTEM_MASTERS, Identity
from ._assets import KUBE_VERSION, KubeBinariesNotFound
from ._client import ClientSide
from ._kube import KubeAPIServer, KubeAPIServerError
from .faults import FaultProxy

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from cimp_apiserver.faults import FaultInjector
    from cimp_apiserver.server import Server

__all__ = [
    "KUBE_VERSION",
    "APIServer",
    "FaultProxy",
    "KubeAPIServer",
    "KubeAPIServerError",
    "KubeBinariesNotFound",
]

ADMIN_USER = "kubernetes-admin"


class APIServer(ClientSide):
    """A local kube-apiserver look-alike; use as a context manager or ``start()``/``stop()``.

    ``feature_gates``: ``{"ConstrainedImpersonation": False}`` or the flag form
    ``"ConstrainedImpersonation=false"`` (the gate is on by default from 1.36).
    ``data_dir``: keep objects (SQLite), certificates and tokens there, so a restarted
    server continues where it stopped. ``audit_log_path``: also append audit events as
    JSON lines. ``port``: fixed port (default: a free one).
    ``clock``: the wall clock (seconds since the epoch, like ``time.time``) with which the
    server issues service-account tokens and checks their ``exp``/``nbf`` (with kube's 60 s
    leeway). Tests pass a skewed or fake clock to exercise expiry and client/server clock
    skew without waiting; nothing else reads it. Default: ``time.time``.
    """

    def __init__(
        self,
        feature_gates: str | Mapping[str, bool] | None = None,
        data_dir: str | Path | None = None,
        audit_log_path: str | Path | None = None,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        token_auth_file: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tmp: Path | None = None
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._clients: list[ApiClient] = []
        gates = parse_feature_gates(feature_gates)  # a bad gate must not leave a directory
        try:
            self._prepare(gates, data_dir, audit_log_path, port, host, token_auth_file)
        except BaseException:
            self.close()
            raise

    def _prepare(
        self,
        gates: dict[str, bool],
        data_dir: str | Path | None,
        audit_log_path: str | Path | None,
        port: int | None,
        host: str,
        token_auth_file: str | Path | None,
    ) -> None:
        """Working directory, PKI and tokens (``__init__`` removes them again if this fails)."""
        if data_dir is not None:
            work = private_dir(data_dir)  # 0700: Secrets, keys and tokens live there
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="cimp-apiserver-"))
            work = self._tmp
        self._config = ServerConfig(
            host=host,
            port=port or 0,
            feature_gates=gates,
            data_dir=Path(data_dir) if data_dir is not None else None,
            audit_log_path=Path(audit_log_path) if audit_log_path is not None else None,
            token_auth_file=Path(token_auth_file) if token_auth_file is not None else None,
            work_dir=work,
        )
        self._certs: ServingCerts = load_or_create(work / "pki")
        self._tokens = StaticTokens()
        self._users_file = work / "users.json" if data_dir is not None else None
        if self._users_file is not None and self._users_file.exists():
            self._tokens.restore(json.loads(self._users_file.read_text()))
        if token_auth_file is not None:
            self._tokens.load_csv(Path(token_auth_file))
        self._admin_token = self._find_admin() or self._new_user(
            Identity(ADMIN_USER, None, (SYSTEM_MASTERS,))
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> APIServer:
        """Start serving; returns once the port accepts connections."""
        if self._server is not None:
            return self
        from cimp_apiserver.server import Server

        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_forever()
            loop.close()

        thread = threading.Thread(target=run, name="cimp-apiserver", daemon=True)
        thread.start()
        server = Server(self._config, certs=self._certs, static_tokens=self._tokens)
        if self._clock is not time.time:
            # Token issue (TokenRequest) and verification read the same clock.
            server.service_account_tokens._clock = self._clock
            server.token_endpoints._clock = self._clock
        try:
            asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            raise
        self._loop, self._thread, self._server = loop, thread, server
        self._config.port = server.port  # restart() comes back on the same port
        return self

    def stop(self) -> None:
        """Stop serving and release the port (the data dir, if any, is kept)."""
        self._close_clients()
        server, loop, thread = self._server, self._loop, self._thread
        self._server = self._loop = self._thread = None
        if server is not None and loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                if thread is not None:
                    thread.join(timeout=10)

    # ------------------------------------------------------------------ facts

    @property
    def _running(self) -> Server:
        if self._server is None:
            raise RuntimeError("the API server is not running; call start() or use `with`")
        return self._server

    @property
    def url(self) -> str:
        return f"https://{self._config.host}:{self._running.port}"

    @property
    def port(self) -> int:
        return self._running.port

    @property
    def ca_file(self) -> str:
        return str(self._config.work_dir / "pki" / "ca.pem")

    @property
    def admin_token(self) -> str:
        """Bearer token of ``kubernetes-admin`` in ``system:masters``."""
        return self._admin_token

    @property
    def feature_gates(self) -> dict[str, bool]:
        return dict(self._config.feature_gates)

    # ------------------------------------------------------------------ users and clients

    def _find_admin(self) -> str | None:
        for entry in self._tokens.dump():
            user = entry["user"]
            if user.get("username") == ADMIN_USER and SYSTEM_MASTERS in (user.get("groups") or []):
                return str(entry["token"])
        return None

    def _new_user(self, identity: Identity) -> str:
        token = self._tokens.new_token(identity)
        if self._users_file is not None:
            # Bearer tokens: private from the first byte, replaced atomically.
            write_private(self._users_file, json.dumps(self._tokens.dump()))
        return token

    def _kubeconfig_dir(self) -> Path:
        return self._config.work_dir

    # ------------------------------------------------------------------ observation

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event (``audit.k8s.io/v1`` Event dicts) recorded since start."""
        return self._running.audit.events()

    @property
    def faults(self) -> FaultInjector:
        """Inject 429/5xx answers: ``server.faults.fail_next(3, 429, retry_after=1)``."""
        return self._running.faults

    def compact(self) -> int:
        """Compact the event history now (as etcd does); older watches and lists get 410."""
        server, loop = self._running, self._loop
        assert loop is not None

        async def run() -> int:
            return server.store.compact()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def clear_impersonation_caches(self) -> None:
        """Forget cached constrained-impersonation successes and the per-requestor mode memory."""
        self._running.impersonator.clear_caches()
