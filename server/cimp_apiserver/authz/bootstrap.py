"""The RBAC policy a fresh kube-apiserver reconciles at start (``bootstrappolicy``).

The server seeds exactly the ClusterRoles, ClusterRoleBindings, Roles and RoleBindings that
kube-apiserver v1.37.2 (default feature gates) creates at start, as it serves them: captured
from the pinned binary by ``hack/gen-bootstrap-rbac.py`` into ``bootstrap-policy.json``, so
rule order, verbs and subjects (and with them every escalation and 403 message that lists
rules) are kube's. ``system:masters`` is bound to ``cluster-admin``, every authenticated user
can discover the API and review its own access, everybody can read ``/healthz`` and
``/version``, the controllers' roles are there for the components that would use them.

One deliberate addition: kube's ``admin``/``edit``/``view`` are empty until the
controller-manager's aggregation controller fills them from the ``system:aggregate-to-*``
roles (the ``rbac.authorization.k8s.io/aggregate-to-*`` labels); this server has no
controller-manager, so it fills them when it seeds them (and the RBAC authorizer aggregates
on every change), as a running cluster shows them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from constrained_impersonation._authz.base import RBAC_GROUP, PolicyRule
from constrained_impersonation._authz.rbac import aggregated_rules

__all__ = [
    "AUTOUPDATE_ANNOTATION",
    "BOOTSTRAP_LABEL",
    "NODE_RULES",
    "bootstrap_cluster_role_bindings",
    "bootstrap_cluster_roles",
    "bootstrap_objects",
    "bootstrap_role_bindings",
    "bootstrap_roles",
]

BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
AUTOUPDATE_ANNOTATION = ("rbac.authorization.kubernetes.io/autoupdate", "true")
POLICY_FILE = Path(__file__).with_name("bootstrap-policy.json")
_KINDS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")

Obj = dict[str, Any]


@cache
def _policy() -> dict[str, tuple[Obj, ...]]:
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    return {plural: tuple(document[plural]) for plural in _KINDS}


def _objects(plural: str) -> list[Obj]:
    return [copy.deepcopy(obj) for obj in _policy()[plural]]


def bootstrap_cluster_roles() -> list[Obj]:
    """The default ClusterRoles, aggregated roles with their rules already filled in."""
    roles = _objects("clusterroles")
    for role in roles:
        if "aggregationRule" in role:
            role["rules"] = aggregated_rules(role, roles)
    return roles


def bootstrap_cluster_role_bindings() -> list[Obj]:
    """The default ClusterRoleBindings (``system:node`` has no subjects, as in kube)."""
    return _objects("clusterrolebindings")


def bootstrap_roles() -> list[Obj]:
    """The default Roles (``kube-system``, ``kube-public``)."""
    return _objects("roles")


def bootstrap_role_bindings() -> list[Obj]:
    """The default RoleBindings (``kube-system``, ``kube-public``)."""
    return _objects("rolebindings")


def bootstrap_objects() -> list[tuple[str, str, Obj]]:
    """``(group, plural, object)`` for the server to seed at start (roles before bindings)."""
    return [
        *((RBAC_GROUP, "clusterroles", o) for o in bootstrap_cluster_roles()),
        *((RBAC_GROUP, "clusterrolebindings", o) for o in bootstrap_cluster_role_bindings()),
        *((RBAC_GROUP, "roles", o) for o in bootstrap_roles()),
        *((RBAC_GROUP, "rolebindings", o) for o in bootstrap_role_bindings()),
    ]


def _node_rules() -> tuple[PolicyRule, ...]:
    """kube's ``NodeRules()``: the Node authorizer's fixed rules for what it does not
    subdivide, which are also the rules of the (unbound) ``system:node`` ClusterRole."""
    for role in _policy()["clusterroles"]:
        if role["metadata"]["name"] == "system:node":
            return PolicyRule.from_list(role.get("rules") or [])
    raise LookupError(f"{POLICY_FILE.name} has no system:node ClusterRole")


NODE_RULES: tuple[PolicyRule, ...] = _node_rules()
