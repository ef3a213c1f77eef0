"""A cluster on the embedded API server, set up the way ``deploy/daemonset/`` expects.

Shared by the demo, the tests and the benchmark so that all three exercise the same path a
real cluster takes: manifests applied as written, the agent's Pod created from the
DaemonSet's own template on a node, and its token issued by TokenRequest bound to that Pod
(so the server, not the test, puts the node name into the token).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from . import manifests
from .manifests import raw_request

__all__ = ["AGENT_NAMESPACE", "AGENT_SERVICE_ACCOUNT", "Sandbox", "SandboxError", "pod_manifest"]

AGENT_NAMESPACE = "node-agents"
AGENT_SERVICE_ACCOUNT = "node-agent"


class SandboxError(RuntimeError):
    """The server refused a set-up step; the message carries its answer."""


def pod_manifest(
    name: str,
    namespace: str,
    node: str,
    *,
    host_network: bool = False,
    labels: dict[str, str] | None = None,
    containers: int = 1,
) -> dict[str, Any]:
    """A small Pod bound to ``node`` (``spec.nodeName`` set, as after scheduling)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels if labels is not None else {"app": name.rsplit("-", 1)[0]},
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": host_network,
            "containers": [
                {"name": f"c{i}" if i else "main", "image": "registry.k8s.io/pause:3.10"}
                for i in range(containers)
            ],
        },
    }


def _check(
    result: tuple[int, dict[str, Any]], what: str, ok: tuple[int, ...] = (200, 201)
) -> dict[str, Any]:
    status, body = result
    if status not in ok:
        raise SandboxError(f"{what}: HTTP {status}: {body.get('message', body)}")
    return body


class Sandbox:
    """Set-up steps against ``server`` (a ``constrained_impersonation.testing.APIServer``)."""

    def __init__(self, server: Any, manifest_dir: Path = manifests.DEFAULT_DIR) -> None:
        self.server = server
        self.manifest_dir = manifest_dir
        self.admin = server.api_client()
        self.applied: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ objects

    def create(self, obj: dict[str, Any], ok: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        what = f"create {obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}"
        return _check(manifests.create(self.admin, obj), what, ok)

    def create_nodes(self, *names: str) -> None:
        for name in names:
            self.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})

    def create_namespace(self, name: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.create(namespace, ok=(200, 201, 409))

    def create_pod(self, pod: dict[str, Any], ip: str | None = None) -> dict[str, Any]:
        """Create ``pod``; with ``ip``, also play the kubelet and report it Running."""
        created = self.create(pod)
        if ip:
            meta = created["metadata"]
            created = self.set_running(meta["namespace"], meta["name"], ip)
        return created

    def set_running(self, namespace: str, name: str, ip: str) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        current = _check(raw_request(self.admin, "GET", path), f"get pod {namespace}/{name}")
        current["status"] = {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "192.0.2.10",
        }
        return _check(
            raw_request(self.admin, "PUT", path + "/status", current), f"status of {name}"
        )

    def delete_pod(self, namespace: str, name: str) -> None:
        """Delete now (grace period 0, as the kubelet confirms a terminated pod)."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        _check(raw_request(self.admin, "DELETE", path, body), f"delete pod {namespace}/{name}")

    def pods_on(self, node: str) -> set[str]:
        """The server's truth: ``namespace/name`` of every Pod bound to ``node``."""
        query = [("fieldSelector", f"spec.nodeName={node}")]
        body = _check(raw_request(self.admin, "GET", "/api/v1/pods", query=query), "list pods")
        return {
            f"{item['metadata']['namespace']}/{item['metadata']['name']}"
            for item in body.get("items") or []
        }

    # ------------------------------------------------------------------ the agent

    def apply_manifests(self) -> dict[str, dict[str, Any]]:
        """Create every object of ``deploy/daemonset/`` as written; returns them by kind."""
        for obj in manifests.load(self.manifest_dir):
            self.applied[obj["kind"]] = self.create(obj)
        return self.applied

    def agent_pod(self, node: str) -> dict[str, Any]:
        """The Pod the DaemonSet controller would create on ``node`` (none runs here)."""
        daemonset = self.applied.get("DaemonSet")
        if daemonset is None:
            raise SandboxError("apply_manifests() first: the agent's Pod comes from the DaemonSet")
        template = copy.deepcopy(daemonset["spec"]["template"])
        meta = dict(template.get("metadata") or {})
        meta.update(
            {
                "name": f"{daemonset['metadata']['name']}-{node}",
                "namespace": daemonset["metadata"]["namespace"],
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": daemonset["metadata"]["name"],
                        "uid": daemonset["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
        )
        spec = template["spec"]
        spec["nodeName"] = node
        return self.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})

    def agent_token(self, pod: dict[str, Any], expiration: int = 3600) -> str:
        """TokenRequest bound to ``pod``: what the kubelet projects into the agent's pod."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": expiration,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            },
        }
        account = pod["spec"].get("serviceAccountName") or "default"
        path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/serviceaccounts/{account}/token"
        response = _check(raw_request(self.admin, "POST", path, body), "TokenRequest")
        return str(response["status"]["token"])

    def agent_credentials(self, node: str) -> tuple[dict[str, Any], str]:
        """Apply the manifests if needed, create the agent's Pod on ``node``, get its token."""
        if "DaemonSet" not in self.applied:
            self.apply_manifests()
        pod = self.agent_pod(node)
        return pod, self.agent_token(pod)

    def whoami(self, token: str) -> dict[str, Any]:
        """The server's view of ``token`` (SelfSubjectReview)."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        client = self.server.api_client(token)
        review = _check(raw_request(client, "POST", path, body), "SelfSubjectReview")
        info: dict[str, Any] = (review.get("status") or {}).get("userInfo") or {}
        return info
