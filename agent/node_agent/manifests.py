"""Read ``deploy/daemonset/`` as kustomize would, and create its objects through the API.

The demo and the tests apply the very files users apply with ``kubectl apply -k``, so what
they prove holds for the manifests as written, not for a copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_DIR",
    "collection_path",
    "create",
    "find",
    "load",
    "raw_request",
]

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "deploy" / "daemonset"

# kind -> (API path prefix, plural, namespaced) for the kinds deploy/daemonset/ uses.
_KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Pod": ("/api/v1", "pods", True),
    "Node": ("/api/v1", "nodes", False),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
}


def load(directory: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    """The objects of ``kustomization.yaml``'s resources, in order, images substituted."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    images = {
        entry["name"]: entry for entry in kustomization.get("images") or [] if "name" in entry
    }
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources") or []:
        for document in yaml.safe_load_all((directory / resource).read_text()):
            if document:
                objects.append(_set_images(document, images))
    return objects


def _set_images(obj: dict[str, Any], images: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        name, _, tag = str(container.get("image", "")).partition(":")
        entry = images.get(name)
        if entry is not None:
            new_name = entry.get("newName", name)
            new_tag = entry.get("newTag", tag)
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
    return obj


def find(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of ``kind``."""
    matches = [obj for obj in objects if obj.get("kind") == kind]
    if len(matches) != 1:
        raise LookupError(f"expected one {kind}, found {len(matches)}")
    return matches[0]


def collection_path(obj: dict[str, Any]) -> str:
    """``/apis/apps/v1/namespaces/node-agents/daemonsets`` for a DaemonSet, and so on."""
    kind = str(obj.get("kind"))
    if kind not in _KINDS:
        raise ValueError(f"unsupported kind {kind!r}")
    prefix, plural, namespaced = _KINDS[kind]
    if namespaced:
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def raw_request(
    api_client: Any,
    method: str,
    path: str,
    body: Any = None,
    query: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Send one JSON request through ``api_client``; (status, decoded body) for any status."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = api_client.param_serialize(
        method,
        path,
        query_params=query,
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request)
    data = response.read()
    status = int(response.status)
    try:
        decoded = json.loads(data) if data else {}
    except ValueError:
        decoded = {"raw": data.decode(errors="replace")}
    return status, decoded if isinstance(decoded, dict) else {"value": decoded}


def create(
    api_client: Any, obj: dict[str, Any], *, dry_run: bool = False
) -> tuple[int, dict[str, Any]]:
    """POST ``obj`` to its collection (``dryRun=All`` and strict field validation if asked)."""
    query = [("fieldValidation", "Strict")]
    if dry_run:
        query.append(("dryRun", "All"))
    return raw_request(api_client, "POST", collection_path(obj), obj, query)
