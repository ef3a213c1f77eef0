"""The table of resources the embedded API server serves.

One declaration feeds the REST handlers, discovery, the OpenAPI documents, the protobuf
decoder and the bootstrap RBAC, so adding a resource is one entry here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "READ_VERBS",
    "REVIEW_VERBS",
    "STORED_VERBS",
    "TABLE",
    "ResourceType",
    "by_kind",
    "groups",
    "lookup",
]

STORED_VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
READ_VERBS = ("get", "list", "watch")
REVIEW_VERBS = ("create",)
_META_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (a REST collection), with what discovery and handlers need."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STORED_VERBS
    # Subresources served under ``<resource>/<name>/<sub>`` (``status``, ``token``...).
    subresources: tuple[str, ...] = ()
    # False for review-style resources: create-only, answered, never stored.
    stored: bool = True
    categories: tuple[str, ...] = ()
    # Field labels accepted in ``fieldSelector`` besides metadata.name/namespace.
    extra_field_selectors: tuple[str, ...] = field(default=())

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def field_selectors(self) -> tuple[str, ...]:
        return _META_FIELDS + self.extra_field_selectors

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def path(self, namespace: str = "", name: str = "") -> str:
        """The REST path of this collection or of one object in it."""
        base = "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        return f"{base}/{name}" if name else base


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

TABLE: tuple[ResourceType, ...] = (
    # core/v1
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status", "finalize"),
        extra_field_selectors=("status.phase",),
    ),
    ResourceType(
        "",
        "v1",
        "nodes",
        "Node",
        False,
        short_names=("no",),
        subresources=("status",),
        extra_field_selectors=("spec.unschedulable",),
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        short_names=("po",),
        categories=("all",),
        subresources=("status", "binding", "eviction"),
        extra_field_selectors=_POD_FIELDS,
    ),
    ResourceType(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        True,
        short_names=("sa",),
        subresources=("token",),
    ),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True, extra_field_selectors=("type",)),
    ResourceType(
        "",
        "v1",
        "events",
        "Event",
        True,
        short_names=("ev",),
        extra_field_selectors=_EVENT_FIELDS,
    ),
    # authentication.k8s.io/v1
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "TokenReview",
        False,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    # authorization.k8s.io/v1
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        True,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        verbs=REVIEW_VERBS,
        stored=False,
    ),
    # rbac.authorization.k8s.io/v1
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    # apps/v1 (stored, never run)
    ResourceType(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
    ),
    # KubeVirt: the VMI and its console subresource, served by a separate API group.
    ResourceType(
        "kubevirt.io",
        "v1",
        "virtualmachineinstances",
        "VirtualMachineInstance",
        True,
        short_names=("vmi", "vmis"),
        categories=("all",),
    ),
    ResourceType(
        "subresources.kubevirt.io",
        "v1",
        "virtualmachineinstances",
        "VirtualMachineInstance",
        True,
        verbs=(),
        stored=False,
        subresources=("console",),
    ),
)

_BY_PATH = {(rt.group, rt.version, rt.resource): rt for rt in TABLE}
_BY_KIND = {(rt.group, rt.kind): rt for rt in TABLE if rt.stored or rt.verbs}


def lookup(group: str, version: str, resource: str) -> ResourceType | None:
    """The served resource at ``/apis/<group>/<version>/<resource>`` (core: group "")."""
    return _BY_PATH.get((group, version, resource))


def by_kind(group: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((group, kind))


def groups() -> list[tuple[str, list[str]]]:
    """``(group, [versions])`` in discovery order (core first)."""
    seen: dict[str, list[str]] = {}
    for rt in TABLE:
        versions = seen.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    return list(seen.items())


def in_group(group: str, version: str) -> Iterable[ResourceType]:
    return (rt for rt in TABLE if rt.group == group and rt.version == version)
