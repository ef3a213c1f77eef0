"""A cluster with three legacy impersonators, built on the API server ``--apiserver`` picks.

* ``node-agents/node-agent`` (a DaemonSet service account, token bound to ``node-1``) lists
  the pods of its node as ``system:node:node-1`` with ``Impersonate-Group: system:nodes``, as
  node agents had to before constrained impersonation;
* ``deputy-ns/deputy`` opens VM consoles as end users, forwarding their UID and groups;
* ``gateway`` (a user) reads configmaps as end users, forwarding their groups.

All three hold legacy ``impersonate`` (users and groups, so each could impersonate
``system:masters``). Requests are real HTTPS requests with the SDK's header codec; the audit
log is the server's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from constrained_impersonation.headers import encode
from constrained_impersonation.identity import Identity

from .._backends import serve_kubevirt

# The embedded server or a real kube-apiserver: both offer the same harness API.
APIServer = Any

RBAC = "rbac.authorization.k8s.io"
NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name"

AGENT = Identity(
    "system:serviceaccount:node-agents:node-agent",
    "agent-pod-uid",
    ("system:serviceaccounts", "system:serviceaccounts:node-agents", "system:authenticated"),
    {NODE_NAME_EXTRA: ("node-1",), "authentication.kubernetes.io/pod-name": ("node-agent-x1",)},
)
DEPUTY = Identity(
    "system:serviceaccount:deputy-ns:deputy",
    None,
    ("system:serviceaccounts", "system:serviceaccounts:deputy-ns", "system:authenticated"),
)
GATEWAY = Identity("gateway", None, ("gateways", "system:authenticated"))

ALICE = Identity("alice", "uid-alice", ("developers",))
BOB = Identity("bob", None, ("team-a", "developers"))
CAROL = Identity("carol", None, ("team-a",))
NODE1 = Identity("system:node:node-1", None, ("system:nodes",))

CONSOLE = "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm1/console"
CONFIGMAPS = "/api/v1/namespaces/team-a/configmaps"
NODE_PODS = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1"


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(
    kind: str,
    name: str,
    role_kind: str,
    role: str,
    subjects: list[dict[str, Any]],
    namespace: str = "",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def legacy_rbac() -> list[dict[str, Any]]:
    """The cluster's RBAC before migration (what ``cimp scan``/``migrate -f`` read)."""
    legacy = _cluster_role(
        "legacy-impersonator",
        [
            {
                "apiGroups": [""],
                "resources": ["users", "groups", "serviceaccounts"],
                "verbs": ["impersonate"],
            },
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["uids", "userextras/*"],
                "verbs": ["impersonate"],
            },
        ],
    )
    sa = lambda ns, name: {"kind": "ServiceAccount", "name": name, "namespace": ns}  # noqa: E731
    return [
        legacy,
        _binding(
            "ClusterRoleBinding",
            "node-agent-legacy",
            "ClusterRole",
            "legacy-impersonator",
            [sa("node-agents", "node-agent")],
        ),
        _binding(
            "ClusterRoleBinding",
            "impersonators-legacy",
            "ClusterRole",
            "legacy-impersonator",
            [sa("deputy-ns", "deputy"), {"kind": "User", "apiGroup": RBAC, "name": "gateway"}],
        ),
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "console-users", "namespace": "default"},
            "rules": [
                {
                    "apiGroups": ["subresources.kubevirt.io"],
                    "resources": ["virtualmachineinstances/console"],
                    "verbs": ["get"],
                }
            ],
        },
        _binding(
            "RoleBinding",
            "console-users",
            "Role",
            "console-users",
            [{"kind": "Group", "apiGroup": RBAC, "name": "developers"}],
            "default",
        ),
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "Role",
            "metadata": {"name": "config-readers", "namespace": "team-a"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
            ],
        },
        _binding(
            "RoleBinding",
            "config-readers",
            "Role",
            "config-readers",
            [{"kind": "Group", "apiGroup": RBAC, "name": "team-a"}],
            "team-a",
        ),
    ]


@dataclass
class Sender:
    """Sends requests as a requestor with impersonation headers (what a legacy client does)."""

    server: APIServer
    pool: urllib3.PoolManager
    tokens: dict[Identity, str] = field(default_factory=dict)

    def send(
        self, requestor: Identity, target: Identity | None, method: str, uri: str
    ) -> tuple[int, dict[str, Any]]:
        token = self.tokens.get(requestor)
        if token is None:
            token = self.tokens[requestor] = self.server.add_user(
                requestor.user,
                requestor.groups,
                requestor.uid,
                {k: list(v) for k, v in requestor.extra.items()},
            )
        headers = urllib3.HTTPHeaderDict()
        headers.add("Authorization", f"Bearer {token}")
        headers.add("Accept", "application/json")
        if target is not None:
            for name, value in encode(target):
                headers.add(name, value)
        response = self.pool.request(
            method, self.server.url + uri, headers=headers, retries=False, timeout=10
        )
        try:
            body = json.loads(response.data) if response.data else {}
        except ValueError:
            body = {}
        return response.status, body if isinstance(body, dict) else {}


def setup(server: APIServer, objects: list[dict[str, Any]]) -> None:
    """The scenario's namespaces, RBAC, node, pod, configmap and VMI, enforced on return."""
    serve_kubevirt(server)
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in ("node-agents", "deputy-ns", "team-a")
    ]
    server.apply(
        *namespaces,
        *objects,
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team-a"},
            "data": {"a": "b"},
        },
        {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm1", "namespace": "default"},
            "spec": {},
        },
    )


def traffic(sender: Sender) -> Iterator[tuple[Identity, Identity, str, str, int]]:
    """The observed legacy impersonations: (requestor, target, method, uri, status)."""
    plan = [
        (AGENT, NODE1, "GET", NODE_PODS),
        (AGENT, NODE1, "GET", NODE_PODS),
        (DEPUTY, ALICE, "GET", CONSOLE),
        (DEPUTY, BOB, "GET", CONSOLE),
        (GATEWAY, BOB, "GET", CONFIGMAPS),
        (GATEWAY, CAROL, "GET", CONFIGMAPS),
        (GATEWAY, CAROL, "GET", CONFIGMAPS + "/settings"),
    ]
    for requestor, target, method, uri in plan:
        status, _ = sender.send(requestor, target, method, uri)
        yield requestor, target, method, uri, status


def build(
    directory: Path, server_class: Callable[..., Any]
) -> tuple[Path, Path, list[tuple[Identity, Identity, str, str, int]]]:
    """Run the scenario on a ``server_class`` server; returns (audit log, RBAC YAML file,
    traffic with statuses)."""
    import yaml

    audit = directory / "audit.log"
    objects = legacy_rbac()
    rbac_file = directory / "rbac.yaml"
    rbac_file.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    with server_class(audit_log_path=audit) as server:
        setup(server, objects)
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=server.ca_file)
        done = list(traffic(Sender(server, pool)))
        pool.clear()
    return audit, rbac_file, done
