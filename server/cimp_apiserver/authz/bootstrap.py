"""The RBAC policy a fresh kube-apiserver reconciles at start (``bootstrappolicy``).

The server seeds these objects into its store so that a new cluster behaves like a kubeadm or
kind cluster: ``system:masters`` is bound to ``cluster-admin``, every authenticated user can
discover the API and review its own access, everybody can read ``/healthz`` and ``/version``,
and the user-facing ``admin``/``edit``/``view`` roles are aggregated from the
``system:aggregate-to-*`` roles through ``rbac.authorization.k8s.io/aggregate-to-*`` labels.
Rule lists follow kube 1.3x; rules for resources this server does not serve are kept, since they
are harmless and ``kubectl get clusterrole -o yaml`` then reads as on a real cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
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
]

BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
AUTOUPDATE_ANNOTATION = ("rbac.authorization.kubernetes.io/autoupdate", "true")
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"

_READ = ("get", "list", "watch")
_READ_WRITE = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_CORE = ""
_APPS = "apps"
_AUTHN = "authentication.k8s.io"
_AUTHZ = "authorization.k8s.io"
_EVENTS = "events.k8s.io"
_STORAGE = "storage.k8s.io"
_COORDINATION = "coordination.k8s.io"
_CERTIFICATES = "certificates.k8s.io"


def _rule(
    verbs: Sequence[str],
    groups: Sequence[str] = (),
    resources: Sequence[str] = (),
    names: Sequence[str] = (),
    urls: Sequence[str] = (),
) -> PolicyRule:
    return PolicyRule(
        verbs=tuple(verbs),
        api_groups=tuple(groups),
        resources=tuple(resources),
        resource_names=tuple(names),
        non_resource_urls=tuple(urls),
    )


# The Node authorizer's fixed rules for resources it does not subdivide (``NodeRules``); also the
# rules of the ``system:node`` ClusterRole, which modern clusters leave unbound.
NODE_RULES: tuple[PolicyRule, ...] = (
    _rule(["create"], [_AUTHN], ["tokenreviews"]),
    _rule(["create"], [_AUTHZ], ["localsubjectaccessreviews", "subjectaccessreviews"]),
    _rule(_READ, [_CORE], ["services"]),
    _rule(["create", "get", "list", "watch"], [_CORE], ["nodes"]),
    _rule(["patch", "update"], [_CORE], ["nodes/status"]),
    _rule(["patch", "update"], [_CORE], ["nodes"]),
    _rule(["create", "patch", "update"], [_CORE, _EVENTS], ["events"]),
    _rule(_READ, [_CORE], ["pods"]),
    _rule(["create", "delete"], [_CORE], ["pods"]),
    _rule(["patch", "update"], [_CORE], ["pods/status"]),
    _rule(["create"], [_CORE], ["pods/eviction"]),
    _rule(_READ, [_CORE], ["configmaps", "secrets"]),
    _rule(["get"], [_CORE], ["persistentvolumeclaims", "persistentvolumes"]),
    _rule(["get"], [_CORE], ["endpoints"]),
    _rule(["create", "get", "list", "watch"], [_CERTIFICATES], ["certificatesigningrequests"]),
    _rule(["create", "delete", "get", "patch", "update"], [_COORDINATION], ["leases"]),
    _rule(["get"], [_STORAGE], ["volumeattachments"]),
    _rule(["create"], [_CORE], ["serviceaccounts/token"]),
    _rule(["get", "patch", "update"], [_CORE], ["persistentvolumeclaims/status"]),
    _rule(_READ, [_STORAGE], ["csidrivers"]),
    _rule(["create", "delete", "get", "patch", "update"], [_STORAGE], ["csinodes"]),
    _rule(_READ, ["node.k8s.io"], ["runtimeclasses"]),
    _rule(["get"], ["resource.k8s.io"], ["resourceclaims"]),
    _rule(["deletecollection"], ["resource.k8s.io"], ["resourceslices"]),
)


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    all_labels = {BOOTSTRAP_LABEL[0]: BOOTSTRAP_LABEL[1], **(labels or {})}
    return {
        "name": name,
        "labels": all_labels,
        "annotations": {AUTOUPDATE_ANNOTATION[0]: AUTOUPDATE_ANNOTATION[1]},
    }


def _cluster_role(
    name: str,
    rules: Sequence[PolicyRule] = (),
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": [rule.to_dict() for rule in rules],
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {_AGGREGATE + aggregate_from: "true"}}]
        }
    return role


def _subject(kind: str, name: str, namespace: str = "") -> dict[str, str]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def _binding(name: str, role: str, subjects: Sequence[dict[str, str]]) -> dict[str, Any]:
    binding: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
    }
    if subjects:
        binding["subjects"] = list(subjects)
    return binding


def _aggregate_to_view() -> list[PolicyRule]:
    return [
        _rule(
            _READ,
            [_CORE],
            [
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
        ),
        _rule(
            _READ,
            [_CORE],
            [
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
        ),
        _rule(_READ, [_CORE], ["namespaces"]),
        _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
        _rule(
            _READ,
            [_APPS],
            [
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        _rule(
            _READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]
        ),
        _rule(_READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        _rule(
            _READ,
            ["extensions"],
            [
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
        ),
        _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        _rule(_READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    ]


def _aggregate_to_edit() -> list[PolicyRule]:
    return [
        _rule(
            _READ,
            [_CORE],
            [
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        _rule(["impersonate"], [_CORE], ["serviceaccounts"]),
        _rule(
            _WRITE,
            [_CORE],
            ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
        ),
        _rule(["create"], [_CORE], ["pods/eviction"]),
        _rule(
            _WRITE,
            [_CORE],
            [
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        _rule(["create"], [_CORE], ["serviceaccounts/token"]),
        _rule(
            _WRITE,
            [_APPS],
            [
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        _rule(_WRITE, ["batch"], ["cronjobs", "jobs"]),
        _rule(
            _WRITE,
            ["extensions"],
            [
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
        ),
        _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
        _rule(_WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
        _rule(_READ_WRITE, [_COORDINATION], ["leases"]),
    ]


def _aggregate_to_admin() -> list[PolicyRule]:
    return [
        _rule(["create"], [_AUTHZ], ["localsubjectaccessreviews"]),
        _rule(_READ_WRITE, [RBAC_GROUP], ["rolebindings", "roles"]),
    ]


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    """The default ClusterRoles, aggregated roles with their rules already filled in."""
    events = _rule(["create", "patch", "update"], [_CORE, _EVENTS], ["events"])
    roles = [
        _cluster_role(
            "cluster-admin",
            [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])],
        ),
        _cluster_role("admin", aggregate_from="admin"),
        _cluster_role("edit", labels={_AGGREGATE + "admin": "true"}, aggregate_from="edit"),
        _cluster_role("view", labels={_AGGREGATE + "edit": "true"}, aggregate_from="view"),
        _cluster_role(
            "system:aggregate-to-admin", _aggregate_to_admin(), {_AGGREGATE + "admin": "true"}
        ),
        _cluster_role(
            "system:aggregate-to-edit", _aggregate_to_edit(), {_AGGREGATE + "edit": "true"}
        ),
        _cluster_role(
            "system:aggregate-to-view", _aggregate_to_view(), {_AGGREGATE + "view": "true"}
        ),
        _cluster_role(
            "system:discovery",
            [
                _rule(
                    ["get"],
                    urls=[
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["create"], [_AUTHZ], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
                ),
                _rule(["create"], [_AUTHN], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_rule(["get"], urls=["/healthz", "/livez", "/readyz", "/version", "/version/"])],
        ),
        _cluster_role(
            "system:monitoring",
            [
                _rule(
                    ["get"],
                    urls=[
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:auth-delegator",
            [
                _rule(["create"], [_AUTHN], ["tokenreviews"]),
                _rule(["create"], [_AUTHZ], ["subjectaccessreviews"]),
            ],
        ),
        _cluster_role(
            "system:service-account-issuer-discovery",
            [_rule(["get"], urls=["/.well-known/openid-configuration", "/openid/v1/jwks"])],
        ),
        _cluster_role("system:node", NODE_RULES),
        _cluster_role(
            "system:node-proxier",
            [
                _rule(["list", "watch"], [_CORE], ["endpoints", "services"]),
                _rule(_READ, [_CORE], ["nodes"]),
                events,
                _rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
            ],
        ),
        _cluster_role(
            "system:kube-scheduler",
            [
                events,
                _rule(["create"], [_COORDINATION], ["leases"]),
                _rule(["get", "update"], [_COORDINATION], ["leases"], names=["kube-scheduler"]),
                _rule(_READ, [_CORE], ["nodes"]),
                _rule(["delete", "get", "list", "watch"], [_CORE], ["pods"]),
                _rule(["create"], [_CORE], ["bindings", "pods/binding"]),
                _rule(["patch", "update"], [_CORE], ["pods/status"]),
                _rule(_READ, [_CORE], ["replicationcontrollers", "services"]),
                _rule(_READ, [_APPS, "extensions"], ["replicasets"]),
                _rule(_READ, [_APPS], ["statefulsets"]),
                _rule(_READ, ["policy"], ["poddisruptionbudgets"]),
                _rule(_READ, [_CORE], ["persistentvolumeclaims", "persistentvolumes"]),
                _rule(["create"], [_AUTHN], ["tokenreviews"]),
                _rule(["create"], [_AUTHZ], ["subjectaccessreviews"]),
                _rule(_READ, [_STORAGE], ["csinodes"]),
                _rule(_READ, [_CORE], ["namespaces"]),
                _rule(_READ, [_STORAGE], ["csidrivers"]),
                _rule(_READ, [_STORAGE], ["csistoragecapacities"]),
            ],
        ),
        _cluster_role(
            "system:kube-controller-manager",
            [
                events,
                _rule(["create"], [_COORDINATION], ["leases"]),
                _rule(
                    ["get", "update"],
                    [_COORDINATION],
                    ["leases"],
                    names=["kube-controller-manager"],
                ),
                _rule(["create"], [_CORE], ["secrets", "serviceaccounts"]),
                _rule(["delete"], [_CORE], ["secrets"]),
                _rule(["get"], [_CORE], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
                _rule(["update"], [_CORE], ["secrets", "serviceaccounts"]),
                _rule(["create"], [_AUTHN], ["tokenreviews"]),
                _rule(["create"], [_AUTHZ], ["subjectaccessreviews"]),
                _rule(["list", "watch"], ["*"], ["*"]),
                _rule(["create"], [_CORE], ["serviceaccounts/token"]),
            ],
        ),
    ]
    _fill_aggregated(roles)
    return roles


def _fill_aggregated(roles: list[dict[str, Any]]) -> None:
    """Write the aggregated rules, as kube's controller does shortly after start, so that
    reading ``admin``/``edit``/``view`` shows their permissions (the authorizer recomputes)."""
    for role in roles:
        if "aggregationRule" in role:
            role["rules"] = aggregated_rules(role, roles)


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    """The default ClusterRoleBindings of a modern cluster (``system:node`` has no subjects)."""
    authenticated = _subject("Group", "system:authenticated")
    unauthenticated = _subject("Group", "system:unauthenticated")
    return [
        _binding("cluster-admin", "cluster-admin", [_subject("Group", "system:masters")]),
        _binding("system:discovery", "system:discovery", [authenticated]),
        _binding("system:basic-user", "system:basic-user", [authenticated]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [authenticated, unauthenticated],
        ),
        _binding(
            "system:monitoring", "system:monitoring", [_subject("Group", "system:monitoring")]
        ),
        _binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            [_subject("Group", "system:serviceaccounts")],
        ),
        _binding("system:node", "system:node", []),
        _binding(
            "system:node-proxier", "system:node-proxier", [_subject("User", "system:kube-proxy")]
        ),
        _binding(
            "system:kube-scheduler",
            "system:kube-scheduler",
            [_subject("User", "system:kube-scheduler")],
        ),
        _binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            [_subject("User", "system:kube-controller-manager")],
        ),
    ]


def bootstrap_objects() -> list[tuple[str, str, dict[str, Any]]]:
    """``(group, plural, object)`` for the server to seed at start (roles before bindings)."""
    objects: list[tuple[str, str, dict[str, Any]]] = [
        (RBAC_GROUP, "clusterroles", role) for role in bootstrap_cluster_roles()
    ]
    objects.extend(
        (RBAC_GROUP, "clusterrolebindings", binding)
        for binding in bootstrap_cluster_role_bindings()
    )
    return objects
