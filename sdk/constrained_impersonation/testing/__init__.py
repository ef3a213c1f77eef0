"""An embedded, faithful Kubernetes API server for tests: TLS, tokens, RBAC, impersonation.

>>> from constrained_impersonation.testing import APIServer
>>> with APIServer() as server:                       # doctest: +SKIP
...     token = server.add_user("alice", groups=["dev"])
...     client = server.api_client(token)               # a kubernetes.client.ApiClient

The server runs on its own event loop in a background thread, serves HTTPS on 127.0.0.1 with
a CA it generates (``.ca_file``), and behaves like kube-apiserver 1.36 for authentication,
legacy and constrained impersonation, RBAC and the Node authorizer, audit, and list/watch.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from .._apiserver.authn import StaticTokens
from .._apiserver.certs import ServingCerts, load_or_create
from .._apiserver.config import ServerConfig, parse_feature_gates
from ..identity import SYSTEM_MASTERS, Identity
from .faults import FaultProxy

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from .._apiserver.faults import FaultInjector
    from .._apiserver.server import Server

__all__ = ["APIServer", "FaultProxy"]

ADMIN_USER = "kubernetes-admin"


class APIServer:
    """A local kube-apiserver look-alike; use as a context manager or ``start()``/``stop()``.

    ``feature_gates``: ``{"ConstrainedImpersonation": False}`` or the flag form
    ``"ConstrainedImpersonation=false"`` (the gate is on by default, as in 1.36).
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
        if data_dir is not None:
            work = Path(data_dir)
            work.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="cimp-apiserver-"))
            work = self._tmp
        self._config = ServerConfig(
            host=host,
            port=port or 0,
            feature_gates=parse_feature_gates(feature_gates),
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._clients: list[ApiClient] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> APIServer:
        """Start serving; returns once the port accepts connections."""
        if self._server is not None:
            return self
        from .._apiserver.server import Server

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
        for client in self._clients:
            client.close()
        self._clients.clear()
        server, loop, thread = self._server, self._loop, self._thread
        self._server = self._loop = self._thread = None
        if server is not None and loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                if thread is not None:
                    thread.join(timeout=10)

    def restart(self) -> APIServer:
        """Stop and start again on the same port (objects survive only with ``data_dir``)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> APIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            self._users_file.write_text(json.dumps(self._tokens.dump()))
            self._users_file.chmod(0o600)
        return token

    def add_user(
        self,
        name: str,
        groups: Iterable[str] = (),
        uid: str | None = None,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> str:
        """Register a user and return a bearer token that authenticates as exactly it."""
        if not name:
            raise ValueError("a user needs a name")
        return self._new_user(
            Identity(name, uid, tuple(groups), {k: tuple(v) for k, v in (extra or {}).items()})
        )

    def api_client(self, token: str | None = None) -> ApiClient:
        """A ``kubernetes.client.ApiClient`` for this server (admin unless ``token`` is given).

        Pass ``token=""`` for an anonymous client. Clients are closed when the server stops.
        """
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.verify_ssl = True
        bearer = self.admin_token if token is None else token
        if bearer:
            configuration.api_key = {"authorization": bearer}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        api = client.ApiClient(configuration)
        self._clients.append(api)
        return api

    def kubeconfig(self, token: str | None = None, *, path: str | Path | None = None) -> str:
        """Write a kubeconfig for this server (admin unless ``token``) and return its path."""
        bearer = self.admin_token if token is None else token
        name = "cimp-admin" if token is None else f"cimp-user-{abs(hash(bearer)) % 10**8}"
        doc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "cimp",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self._certs.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": name, "user": {"token": bearer} if bearer else {}}],
            "contexts": [{"name": name, "context": {"cluster": "cimp", "user": name}}],
            "current-context": name,
        }
        target = Path(path) if path is not None else self._config.work_dir / f"{name}.kubeconfig"
        target.write_text(yaml.safe_dump(doc, sort_keys=False))
        target.chmod(0o600)
        return str(target)

    # ------------------------------------------------------------------ objects

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One admin request through the API (so validation, admission and audit apply)."""
        import http.client
        import ssl

        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection(
            self._config.host, self._running.port, context=context, timeout=30
        )
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {
                "Authorization": f"Bearer {self.admin_token}",
                "Accept": "application/json",
            }
            if payload is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def apply(self, *manifests: Mapping[str, Any] | str | Path) -> list[dict[str, Any]]:
        """Create each object, or replace it if it exists (like ``kubectl apply``, minus the
        three-way merge). Accepts dicts, YAML text (multi-document), and ``Path`` objects of
        YAML files or of directories (their ``*.yaml``/``*.yml`` files, sorted, except
        ``kustomization.yaml``).
        Returns the stored objects; raises ``ValueError`` with the server's message on failure.
        """
        from .._apiserver.resources import by_kind

        docs: list[Mapping[str, Any]] = []
        for manifest in manifests:
            if isinstance(manifest, Mapping):
                docs.append(manifest)
                continue
            if isinstance(manifest, Path):
                files = (
                    sorted(
                        f
                        for f in manifest.iterdir()
                        if f.suffix in (".yaml", ".yml") and not f.stem.startswith("kustomization")
                    )
                    if manifest.is_dir()
                    else [manifest]
                )
                texts = [f.read_text() for f in files]
            else:
                texts = [manifest]
            for text in texts:
                docs.extend(d for d in yaml.safe_load_all(text) if d)
        # Namespaces first, then identities and RBAC, then everything else (as helm orders).
        order = {"Namespace": 0, "ServiceAccount": 1, "ClusterRole": 1, "Role": 1}
        order |= {"ClusterRoleBinding": 2, "RoleBinding": 2}
        docs.sort(key=lambda d: order.get(str(d.get("kind")), 3))
        stored: list[dict[str, Any]] = []
        for doc in docs:
            api_version = str(doc.get("apiVersion", ""))
            group = api_version.rpartition("/")[0]
            kind = str(doc.get("kind", ""))
            rt = by_kind(group, kind)
            if rt is None or not rt.stored:
                raise ValueError(f"cannot apply {api_version} {kind}: not served by this server")
            meta = doc.get("metadata") or {}
            namespace = str(meta.get("namespace") or ("default" if rt.namespaced else ""))
            status, obj = self._call("POST", rt.path(namespace), doc)
            if status == 409 and (obj or {}).get("reason") == "AlreadyExists":
                _, current = self._call("GET", rt.path(namespace, meta["name"]))
                replacement = json.loads(json.dumps(doc))
                replacement.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                    "resourceVersion"
                ]
                status, obj = self._call("PUT", rt.path(namespace, meta["name"]), replacement)
            if status >= 400:
                message = (obj or {}).get("message", status)
                raise ValueError(f"apply {kind} {meta.get('name')!r} failed: {message}")
            stored.append(obj)
        return stored

    def token_for(
        self,
        namespace: str,
        service_account: str,
        *,
        pod: str | None = None,
        node: str | None = None,
        audiences: Sequence[str] = (),
        expiration_seconds: int = 3600,
    ) -> str:
        """A service-account token issued through TokenRequest, as the kubelet gets one.

        Bound to ``pod`` (in ``namespace``; the token then carries the pod's node name, which
        associated-node impersonation needs) or to ``node``; unbound otherwise.
        """
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = list(audiences)
        if pod is not None:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": pod}
        elif node is not None:
            spec["boundObjectRef"] = {"kind": "Node", "apiVersion": "v1", "name": node}
        status, obj = self._call(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        if status >= 400:
            raise ValueError(f"TokenRequest failed: {(obj or {}).get('message', status)}")
        return str(obj["status"]["token"])

    # ------------------------------------------------------------------ observation

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event (``audit.k8s.io/v1`` Event dicts) recorded since start."""
        return self._running.audit.events()

    def metrics_text(self) -> str:
        """The Prometheus text ``/metrics`` serves."""
        return self._running.metrics.render()

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
