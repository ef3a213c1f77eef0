"""What both test backends offer on the client side: clients, ``apply`` and ``token_for``.

Everything here goes through the HTTP API as an admin would (so validation, admission, RBAC
escalation checks and audit apply), and knows the server only by its URL, CA and admin token.
That is what lets one test run unchanged against the embedded server and a real kube-apiserver.
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import yaml

from ..identity import Identity

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ClientSide"]

# Namespaces first, then identities and RBAC, then everything else (as helm orders).
_APPLY_ORDER = {
    "Namespace": 0,
    "CustomResourceDefinition": 0,
    "ServiceAccount": 1,
    "ClusterRole": 1,
    "Role": 1,
    "ClusterRoleBinding": 2,
    "RoleBinding": 2,
}


def _documents(manifests: Sequence[Mapping[str, Any] | str | Path]) -> list[Mapping[str, Any]]:
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
    docs.sort(key=lambda d: _APPLY_ORDER.get(str(d.get("kind")), 3))
    return docs


class ClientSide:
    """Mixin: needs ``url``, ``ca_file``, ``admin_token`` and a ``_clients`` list."""

    _clients: list[ApiClient]

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def ca_file(self) -> str:
        raise NotImplementedError

    @property
    def admin_token(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ lifecycle

    _tmp: Path | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> Self:
        """Stop and start again on the same port; what survives depends on the backend
        (the embedded server keeps objects only with ``data_dir``, etcd always does)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop, and remove the temporary directory if the server made one."""
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()  # `with` never calls __exit__ when __enter__ fails: no leftovers
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ clients

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

    def _ca_pem(self) -> bytes:
        return Path(self.ca_file).read_bytes()

    def _kubeconfig_dir(self) -> Path:
        raise NotImplementedError

    def _new_user(self, identity: Identity) -> str:
        """Make the server authenticate a fresh bearer token as exactly ``identity``."""
        raise NotImplementedError

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

    def kubeconfig(self, token: str | None = None, *, path: str | Path | None = None) -> str:
        """Write a kubeconfig for this server (admin unless ``token``) and return its path.

        The file holds a bearer token, so it is private (0600) from its first byte.
        """
        import base64
        import hashlib

        from .._private_files import write_private

        bearer = self.admin_token if token is None else token
        digest = hashlib.sha256(bearer.encode()).hexdigest()[:8]
        name = "cimp-admin" if token is None else f"cimp-user-{digest}"
        doc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "cimp",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self._ca_pem()).decode(),
                    },
                }
            ],
            "users": [{"name": name, "user": {"token": bearer} if bearer else {}}],
            "contexts": [{"name": name, "context": {"cluster": "cimp", "user": name}}],
            "current-context": name,
        }
        target = Path(path) if path is not None else self._kubeconfig_dir() / f"{name}.kubeconfig"
        write_private(target, yaml.safe_dump(doc, sort_keys=False))
        return str(target)

    def _close_clients(self) -> None:
        for api in self._clients:
            api.close()
        self._clients.clear()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One JSON request (admin unless ``token``); returns the status and the decoded body."""
        parts = urlsplit(self.url)
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port, context=context, timeout=60
        )
        try:
            payload = json.dumps(body).encode() if body is not None else None
            sent = {"Accept": "application/json"}
            bearer = self.admin_token if token is None else token
            if bearer:
                sent["Authorization"] = f"Bearer {bearer}"
            if payload is not None:
                sent["Content-Type"] = "application/json"
            sent.update(headers or {})
            conn.request(method, path, body=payload, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                decoded = json.loads(raw) if raw else None
            except ValueError:
                decoded = raw.decode(errors="replace")
            return resp.status, decoded
        finally:
            conn.close()

    # ------------------------------------------------------------------ objects

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of ``kind`` from the server's own discovery."""
        cache: dict[tuple[str, str], tuple[str, bool]] = self.__dict__.setdefault("_resources", {})
        key = (api_version, kind)
        if key not in cache:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, listing = self.request("GET", prefix)
            for entry in (listing or {}).get("resources", []) if status == 200 else []:
                if "/" not in entry["name"]:
                    cache[(api_version, entry["kind"])] = (entry["name"], entry["namespaced"])
            if key not in cache:
                raise ValueError(f"cannot apply {api_version} {kind}: not served by this server")
        return cache[key]

    def _path(self, api_version: str, kind: str, namespace: str, name: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        base = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"
        return f"{base}/{name}" if name else base

    def apply(self, *manifests: Mapping[str, Any] | str | Path) -> list[dict[str, Any]]:
        """Create each object, or replace it if it exists (like ``kubectl apply``, minus the
        three-way merge). Accepts dicts, YAML text (multi-document), and ``Path`` objects of
        YAML files or of directories (their ``*.yaml``/``*.yml`` files, sorted, except
        ``kustomization.yaml``).

        Returns the stored objects once the server enforces them (RBAC and the Node
        authorizer's graph included); raises ``ValueError`` with the server's message.
        """
        stored: list[dict[str, Any]] = []
        for doc in _documents(manifests):
            api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
            meta = doc.get("metadata") or {}
            _, namespaced = self._resource(api_version, kind)
            namespace = str(meta.get("namespace") or "default") if namespaced else ""
            status, obj = self.request("POST", self._path(api_version, kind, namespace), doc)
            if status == 409 and isinstance(obj, dict) and obj.get("reason") == "AlreadyExists":
                path = self._path(api_version, kind, namespace, str(meta["name"]))
                _, current = self.request("GET", path)
                replacement = json.loads(json.dumps(doc))
                replacement.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                    "resourceVersion"
                ]
                status, obj = self.request("PUT", path, replacement)
            if status >= 400:
                message = obj.get("message", status) if isinstance(obj, dict) else status
                raise ValueError(f"apply {kind} {meta.get('name')!r} failed: {message}")
            stored.append(obj)
        self._settle(stored)
        return stored

    def _settle(self, stored: list[dict[str, Any]]) -> None:
        """Wait until what was just written is enforced (a real server's caches lag)."""

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
        status, obj = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        if status >= 400:
            raise ValueError(f"TokenRequest failed: {(obj or {}).get('message', status)}")
        return str(obj["status"]["token"])

    def metrics_text(self) -> str:
        """The Prometheus text ``/metrics`` serves (read as the admin)."""
        status, body = self.request("GET", "/metrics", headers={"Accept": "text/plain"})
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}")
        return body if isinstance(body, str) else json.dumps(body)
