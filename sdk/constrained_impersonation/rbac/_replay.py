"""Replay impersonated requests against an embedded API server loaded with given RBAC.

Requests go out over HTTPS with urllib3 directly, one header line per group and extra value
(the header codec's ``encode``), as the requestor (a bearer token for exactly its observed
identity, node-name extra included, so associated-node applies as it did in the cluster).
The outcome is read the way an operator would: a 403 naming the requestor and an
``impersonate`` verb is an impersonation refusal; any other answer means impersonation passed,
and the audit event of the request says through which mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..denied import parse_forbidden
from ..headers import encode
from ..identity import Identity
from .kube import KubeClient
from .policy import RBAC_GROUP

if TYPE_CHECKING:
    from ..testing import APIServer
    from .migrate import ReplayResult

__all__ = ["Replayer"]

_PLURALS = {
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
}
_BODY_METHODS = {
    "POST": "application/json",
    "PUT": "application/json",
    "PATCH": "application/merge-patch+json",
}


class Replayer:
    """An embedded API server (gate on) with ``objects`` loaded; replays requests on it."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], *, timeout: float = 10.0) -> None:
        self.objects = [dict(o) for o in objects]
        self.timeout = timeout
        self._server: APIServer | None = None
        self._tokens: dict[Identity, str] = {}
        self._count = 0
        self._pool: Any = None

    def __enter__(self) -> Replayer:
        import urllib3

        from ..testing import APIServer

        server = APIServer(feature_gates={"ConstrainedImpersonation": True})
        server.start()
        self._server = server
        try:
            self._load(KubeClient(server.api_client()))
        except BaseException:
            server.close()
            raise
        self._pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=server.ca_file)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    @property
    def server(self) -> APIServer:
        if self._server is None:
            raise RuntimeError("use Replayer as a context manager")
        return self._server

    # ------------------------------------------------------------------ loading

    def _load(self, admin: KubeClient) -> None:
        namespaces = sorted(
            {str((o.get("metadata") or {}).get("namespace") or "") for o in self.objects} - {""}
        )
        for namespace in namespaces:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            status, data = admin.request("POST", "/api/v1/namespaces", body=body)
            if status >= 400 and status != 409:
                raise ValueError(f"cannot create namespace {namespace}: {data.get('message')}")
        # Roles before bindings, so that no binding ever points at a missing role.
        order = {"ClusterRole": 0, "Role": 1, "ClusterRoleBinding": 2, "RoleBinding": 3}
        for obj in sorted(self.objects, key=lambda o: order.get(str(o.get("kind")), 9)):
            self._apply(admin, obj)

    def _apply(self, admin: KubeClient, obj: dict[str, Any]) -> None:
        kind = str(obj.get("kind"))
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "")
        plural = _PLURALS[kind]
        base = f"/apis/{RBAC_GROUP}/v1" + (f"/namespaces/{namespace}" if namespace else "")
        body = {**obj, "apiVersion": f"{RBAC_GROUP}/v1", "kind": kind}
        status, data = admin.request("POST", f"{base}/{plural}", body=body)
        if status == 409:  # a bootstrap object of the same name: replace it
            current = admin.get(f"{base}/{plural}/{name}")
            version = (current.get("metadata") or {}).get("resourceVersion")
            body["metadata"] = {**meta, "resourceVersion": version}
            status, data = admin.request("PUT", f"{base}/{plural}/{name}", body=body)
        if status >= 400:
            raise ValueError(f"cannot load {kind} {name!r}: {data.get('message')}")

    # ------------------------------------------------------------------ replaying

    def _token(self, requestor: Identity) -> str:
        token = self._tokens.get(requestor)
        if token is None:
            token = self.server.add_user(
                requestor.user,
                groups=requestor.groups,
                uid=requestor.uid,
                extra={k: list(v) for k, v in requestor.extra.items()},
            )
            self._tokens[requestor] = token
        return token

    def replay(
        self,
        requestor: Identity,
        target: Identity,
        method: str,
        uri: str,
        *,
        expected: str,
        label: str,
    ) -> ReplayResult:
        import urllib3

        from .migrate import ReplayResult

        self._count += 1
        agent = f"cimp-migrate-verify/{self._count}"
        headers = urllib3.HTTPHeaderDict()
        headers.add("Authorization", f"Bearer {self._token(requestor)}")
        headers.add("Accept", "application/json")
        headers.add("User-Agent", agent)
        for name, value in encode(target):
            headers.add(name, value)
        body = None
        if method in _BODY_METHODS:
            headers.add("Content-Type", _BODY_METHODS[method])
            body = b"{}"
        result = ReplayResult(requestor.user, target.user, label, expected, "error")
        try:
            response = self._pool.request(
                method,
                self.server.url + uri,
                headers=headers,
                body=body,
                preload_content=False,
                retries=False,
                timeout=self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            result.detail = f"request failed: {exc}"
            return result
        status = response.status
        if status >= 400:
            payload = response.read(65536)
            response.release_conn()
        else:
            payload = b""
            response.close()  # a watch or a console would stream: the status is enough
        result.mode = self._mode(agent)
        if status == 403:
            parsed = parse_forbidden(payload)
            if parsed is not None and parsed.mode is not None and parsed.requestor != target.user:
                result.outcome = "denied"
                result.detail = _message(payload)
                return result
        if status in (400, 401) and not result.mode:
            result.detail = f"HTTP {status}: {_message(payload)}"
            return result
        result.outcome = "allowed"
        if status >= 400:
            result.detail = f"impersonated; then HTTP {status}: {_message(payload)}"
        return result

    def _mode(self, agent: str) -> str:
        """The mode the server used for the request sent with ``agent`` ("" if none)."""
        for event in reversed(self.server.audit_events()):
            if event.get("userAgent") != agent or "impersonatedUser" not in event:
                continue
            constraint = str(
                (event.get("authenticationMetadata") or {}).get("impersonationConstraint") or ""
            )
            return constraint.split(":", 1)[1] if constraint else "legacy"
        return ""


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload[:200].decode("utf-8", "replace")
    return str(data.get("message") or "") if isinstance(data, dict) else ""
