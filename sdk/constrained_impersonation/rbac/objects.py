"""A cluster's RBAC, from YAML files or the live API, indexed for the offline tools.

Rule matching and aggregation are not re-implemented here: the effective rules of aggregated
ClusterRoles come from the embedded API server's ``aggregated_rules`` and every decision from
its ``rule_allows`` / :class:`RBACAuthorizer`, so scan, migrate and the server cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._authz.base import PolicyRule
from .._authz.rbac import RBACAuthorizer, aggregated_rules
from .kube import KubeClient
from .output import load_documents
from .policy import RBAC_API_VERSION, RBAC_GROUP, Subject

__all__ = ["Holding", "RbacSet"]

_KINDS = {
    "ClusterRole": "clusterroles",
    "Role": "roles",
    "ClusterRoleBinding": "clusterrolebindings",
    "RoleBinding": "rolebindings",
}


def _meta(obj: Mapping[str, Any], key: str) -> str:
    meta = obj.get("metadata")
    return str(meta.get(key) or "") if isinstance(meta, Mapping) else ""


@dataclass(frozen=True)
class Holding:
    """One way a subject holds rules: a binding, the role it references, and the rules."""

    binding_kind: str
    binding_name: str
    namespace: str  # "" for a ClusterRoleBinding: its rules apply everywhere
    role_kind: str
    role_name: str
    rules: tuple[PolicyRule, ...]
    error: str = ""

    def via(self) -> str:
        """``ClusterRoleBinding/x -> ClusterRole/y`` (RoleBindings as ``ns/name``)."""
        binding = f"{self.namespace}/{self.binding_name}" if self.namespace else self.binding_name
        role = f"{self.namespace}/{self.role_name}" if self.role_kind == "Role" else self.role_name
        return f"{self.binding_kind}/{binding} -> {self.role_kind}/{role}"

    def applies_in(self, namespace: str) -> bool:
        """A RoleBinding grants only in its namespace; cluster checks need a ClusterRoleBinding."""
        return not self.namespace or self.namespace == namespace


class RbacSet:
    """Roles, ClusterRoles and bindings; objects of other kinds are ignored."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self.by_plural: dict[str, list[dict[str, Any]]] = {p: [] for p in _KINDS.values()}
        for obj in objects:
            plural = _KINDS.get(str(obj.get("kind") or ""))
            api_version = str(obj.get("apiVersion") or RBAC_API_VERSION)
            if plural is None or not api_version.startswith(RBAC_GROUP + "/"):
                continue
            if not _meta(obj, "name"):
                raise ValueError(f"{obj.get('kind')} without metadata.name")
            self.by_plural[plural].append(dict(obj))
        self._cluster_roles = {_meta(o, "name"): o for o in self.by_plural["clusterroles"]}
        self._roles = {
            (_meta(o, "namespace"), _meta(o, "name")): o for o in self.by_plural["roles"]
        }
        self._effective: dict[str, tuple[PolicyRule, ...]] = {}

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_files(cls, sources: Sequence[str | Path]) -> RbacSet:
        return cls(load_documents(sources))

    @classmethod
    def from_cluster(cls, kube: KubeClient) -> RbacSet:
        """Read all four RBAC kinds (needs list permission on them, cluster-wide)."""
        objects: list[dict[str, Any]] = []
        for kind, plural in _KINDS.items():
            for item in kube.list_all(f"/apis/{RBAC_GROUP}/v1/{plural}"):
                item.setdefault("apiVersion", RBAC_API_VERSION)
                item.setdefault("kind", kind)
                objects.append(item)
        return cls(objects)

    def objects(self) -> list[dict[str, Any]]:
        return [obj for plural in _KINDS.values() for obj in self.by_plural[plural]]

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_plural.values())

    # ------------------------------------------------------------------ rules

    def cluster_role_rules(self, name: str) -> tuple[PolicyRule, ...] | None:
        """Effective rules (aggregation resolved), None if the ClusterRole does not exist."""
        if name not in self._cluster_roles:
            return None
        cached = self._effective.get(name)
        if cached is None:
            obj = self._cluster_roles[name]
            if obj.get("aggregationRule") is not None:
                raw = aggregated_rules(obj, list(self._cluster_roles.values()))
            else:
                raw = obj.get("rules") or []
            cached = self._effective[name] = PolicyRule.from_list(raw)
        return cached

    def holdings(self) -> Iterator[tuple[Subject, Holding]]:
        """Every (subject, holding) pair of every binding, in a stable order."""
        bindings = [("ClusterRoleBinding", o) for o in self.by_plural["clusterrolebindings"]]
        bindings += [("RoleBinding", o) for o in self.by_plural["rolebindings"]]
        for kind, obj in bindings:
            namespace = _meta(obj, "namespace") if kind == "RoleBinding" else ""
            ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), Mapping) else {}
            assert isinstance(ref, Mapping)
            role_kind, role_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
            rules: tuple[PolicyRule, ...] | None
            if role_kind == "ClusterRole":
                rules = self.cluster_role_rules(role_name)
            elif role_kind == "Role" and namespace:
                role = self._roles.get((namespace, role_name))
                rules = PolicyRule.from_list(role.get("rules")) if role is not None else None
            else:
                rules = None
            holding = Holding(
                kind,
                _meta(obj, "name"),
                namespace,
                role_kind,
                role_name,
                rules or (),
                "" if rules is not None else f"{role_kind} {role_name!r} not found",
            )
            for raw in obj.get("subjects") or ():
                if not isinstance(raw, Mapping):
                    continue
                try:
                    subject = Subject.from_dict(raw, namespace)
                except ValueError:
                    continue  # kube ignores subjects it cannot match, so do we
                yield subject, holding

    def by_subject(self) -> dict[Subject, list[Holding]]:
        out: dict[Subject, list[Holding]] = {}
        for subject, holding in self.holdings():
            out.setdefault(subject, []).append(holding)
        return out

    def authorizer(self) -> RBACAuthorizer:
        """kube's RBAC authorizer over exactly these objects (for offline decisions)."""
        objects = {p: list(v) for p, v in self.by_plural.items()}

        def list_objects(group: str, plural: str) -> list[dict[str, Any]]:
            return objects.get(plural, []) if group == RBAC_GROUP else []

        return RBACAuthorizer(list_objects, lambda: 0)
