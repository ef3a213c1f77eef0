"""What the attack tests share: raw HTTPS requests (any body, any content type, a deadline),
users with exactly the rules given, and waiting for the real server's controllers.

Only the public harness API is used (``url``, ``ca_file``, ``admin_token``, ``apply``,
``add_user``), so every attack runs unchanged against the embedded server and kube-apiserver.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

Server = Any
T = TypeVar("T")
RBAC = "rbac.authorization.k8s.io"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def call(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
    timeout: float = 60.0,
) -> tuple[int, Any]:
    """One request as ``token`` (the admin by default); ``body`` is JSON-encoded unless bytes.
    Returns the status and the decoded JSON (or the text)."""
    url = urlsplit(server.url)
    context = ssl.create_default_context(cafile=server.ca_file)
    conn = http.client.HTTPSConnection(
        url.hostname or "127.0.0.1", url.port, context=context, timeout=timeout
    )
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {token or server.admin_token}")
        for name, value in headers:
            conn.putheader(name, value)
        payload = b""
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(payload)))
        conn.putheader("Accept", "application/json")
        conn.endheaders(payload or None)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


def user_with(
    server: Server, user: str, rules: list[dict[str, Any]], groups: Sequence[str] = ()
) -> str:
    """A token for ``user``, bound (cluster-wide) to exactly ``rules``."""
    server.apply(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"attack:{user}"},
            "rules": rules,
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"attack:{user}"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": f"attack:{user}"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
        },
    )
    return str(server.add_user(user, list(groups)))


def wait_for(check: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    """Poll until ``check()`` is truthy (the real server's controllers lag a little)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def crd(
    group: str,
    plural: str,
    kind: str,
    *,
    scope: str = "Namespaced",
    version: str = "v1",
    schema: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    subresources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A CustomResourceDefinition manifest with one served, stored version."""
    meta: dict[str, Any] = {"name": f"{plural}.{group}"}
    if annotations:
        meta["annotations"] = annotations
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": schema
            or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if subresources:
        served["subresources"] = subresources
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": meta,
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
            },
            "versions": [served],
        },
    }


def established(server: Server, name: str) -> bool:
    status, body = call(server, "GET", f"{CRDS}/{name}")
    if status != 200:
        return False
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def create_crd(server: Server, manifest: dict[str, Any]) -> None:
    """Create a CRD as the admin and wait until it is established."""
    status, body = call(server, "POST", CRDS, manifest)
    assert status == 201, body
    name = manifest["metadata"]["name"]
    wait_for(lambda: established(server, name), f"CRD {name} established")
