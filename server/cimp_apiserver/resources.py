"""The resources the embedded API server serves: one registry per server.

One declaration feeds the REST handlers, discovery, the OpenAPI documents, the protobuf
decoder and the bootstrap RBAC. The built-in table (:data:`BUILTIN`) is derived from the
pinned kube-apiserver's own discovery documents (``data/``, ``hack/gen-resources.py``); a
:class:`Registry` starts from it and may gain or lose resources at run time (custom
resources): :meth:`Registry.add`, :meth:`Registry.remove`, and :attr:`Registry.revision` for
caches of derived documents.
Each application keeps its registry under ``app[REGISTRY]``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from . import data

__all__ = [
    "BUILTIN",
    "DEFAULT",
    "READ_VERBS",
    "REGISTRY",
    "REVIEW_VERBS",
    "STORED_VERBS",
    "TABLE",
    "Column",
    "Registry",
    "ResourceType",
    "Subresource",
    "by_kind",
    "groups",
    "in_group",
    "lookup",
    "registry_of",
    "version_priority",
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
_FIELD_LABEL_ERROR = "field label not supported: {label}"


class Column(NamedTuple):
    """A column of kube's ``Table`` output for a resource (``kubectl get``)."""

    name: str
    type: str
    format: str
    priority: int
    description: str = ""


@dataclass(frozen=True)
class Subresource:
    """What discovery says about ``<resource>/<name>/<subresource>``: verbs and body kind."""

    name: str
    verbs: tuple[str, ...]
    # (group, version, kind) of the body; None means the parent resource's kind.
    kind: tuple[str, str, str] | None = None


# Subresources whose discovery entry the table does not spell out.
_DEFAULT_SUBRESOURCES: dict[str, Subresource] = {
    "status": Subresource("status", ("get", "patch", "update")),
    "finalize": Subresource("finalize", ("update",)),
    "binding": Subresource("binding", ("create",), ("", "v1", "Binding")),
    "eviction": Subresource("eviction", ("create",), ("policy", "v1", "Eviction")),
    "token": Subresource("token", ("create",), ("authentication.k8s.io", "v1", "TokenRequest")),
    "scale": Subresource("scale", ("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
}


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
    # Discovery details of the subresources, when not those of ``_DEFAULT_SUBRESOURCES``.
    subresource_specs: tuple[Subresource, ...] = ()
    # kube-apiserver's storageVersionHash ("" for resources it does not store).
    storage_version_hash: str = ""
    # Exactly the field labels ``fieldSelector`` accepts (None: metadata.name/namespace and
    # ``extra_field_selectors``), and kube's error for another (``{label}`` stands for it).
    field_labels: tuple[str, ...] | None = None
    field_label_error: str = _FIELD_LABEL_ERROR
    # The columns of ``kubectl get`` (empty: kube's default Name and Created At).
    columns: tuple[Column, ...] = ()
    # One of the pinned kube-apiserver's own resources (not a custom resource).
    builtin: bool = False
    # kube keeps ``metadata.generation`` (1 on create, +1 when anything but metadata and
    # status changes), as its registry strategy for the resource does.
    generation: bool = False
    # The warning kube-apiserver sends with every request to a deprecated kind ("" if none).
    deprecation: str = ""
    # A DELETE answers with the deleted object rather than a Status, as kube's store for it.
    returns_deleted: bool = False
    # The OpenAPI v3 schema of a custom resource's kind (a CRD's ``openAPIV3Schema``), for
    # its generated OpenAPI documents; None: an open object. Built-ins have kube's own.
    schema: Mapping[str, Any] | None = field(default=None, compare=False)
    # Rules replacing the built-in defaulting, validation and encoding (``strategy.py``):
    # set by whoever adds the resource (custom resources); None for built-ins.
    strategy: Any = field(default=None, compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def field_selectors(self) -> tuple[str, ...]:
        if self.field_labels is not None:
            return self.field_labels
        return _META_FIELDS + self.extra_field_selectors

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def subresource(self, name: str) -> Subresource:
        """The discovery details of subresource ``name`` (which need not be served)."""
        for spec in self.subresource_specs:
            if spec.name == name:
                return spec
        return _DEFAULT_SUBRESOURCES.get(name, Subresource(name, ("get",)))

    def path(self, namespace: str = "", name: str = "") -> str:
        """The REST path of this collection or of one object in it."""
        base = "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        return f"{base}/{name}" if name else base


# A review-style resource: answered, never stored.
_REVIEW_KINDS = frozenset(
    {
        "TokenReview",
        "SelfSubjectReview",
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectRulesReview",
    }
)


def _builtin(group: str, version: str, entry: dict[str, Any]) -> ResourceType:
    """One resource of the captured discovery documents (see ``hack/gen-resources.py``)."""
    verbs = tuple(entry["verbs"])
    kind = entry.get("kind") or ["", "", ""]
    subs = tuple(
        Subresource(
            sub["name"],
            tuple(sub["verbs"]),
            None if tuple(sub["kind"]) == (group, version, kind[2]) else tuple(sub["kind"]),
        )
        for sub in entry.get("subresources", ())
    )
    selectors = entry.get("fieldSelectors") or {}
    return ResourceType(
        group,
        version,
        entry["resource"],
        kind[2],
        entry["scope"] == "Namespaced",
        singular=entry["singular"],
        short_names=tuple(entry.get("shortNames", ())),
        verbs=verbs,
        subresources=tuple(sub.name for sub in subs),
        stored="create" in verbs and "get" in verbs and kind[2] not in _REVIEW_KINDS,
        categories=tuple(entry.get("categories", ())),
        subresource_specs=subs,
        storage_version_hash=entry.get("storageVersionHash", ""),
        field_labels=tuple(selectors["labels"]) if selectors else None,
        field_label_error=selectors.get("error", _FIELD_LABEL_ERROR),
        columns=tuple(Column(*column) for column in entry.get("columns", ())),
        builtin=True,
        generation=bool(entry.get("generation")),
        deprecation=entry.get("deprecated", ""),
        returns_deleted=bool(entry.get("returnsDeleted")),
    )


def _builtins() -> tuple[ResourceType, ...]:
    document = data.load("resources.json")
    return tuple(
        _builtin(group["name"], version["version"], entry)
        for group in document["groups"]
        for version in group["versions"]
        for entry in version["resources"]
    )


BUILTIN: tuple[ResourceType, ...] = _builtins()
"""Every resource kube-apiserver of the pinned version serves, in its discovery order."""

TABLE: tuple[ResourceType, ...] = BUILTIN
"""What a server serves from the start: the built-ins (KubeVirt comes from its CRD and an
APIService, ``kubevirt/``)."""


_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in kube's order: GA, beta, alpha, then others; newest first."""
    match = _VERSION.fullmatch(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = int(match[1]), match[2], int(match[3] or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


class Registry:
    """The resources one server serves; built-ins first, custom resources added at run time.

    Thread-safe for one writer; readers see a consistent snapshot per call. ``revision``
    grows on every change, so caches of discovery and OpenAPI documents know to rebuild.
    """

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._builtin_groups: list[str] = []
        self._revision = 0
        for rt in types:
            self._types[(rt.group, rt.version, rt.resource)] = rt
            if rt.group not in self._builtin_groups:
                self._builtin_groups.append(rt.group)
        self._snapshot: tuple[ResourceType, ...] = tuple(self._types.values())

    @property
    def revision(self) -> int:
        """A number that changes whenever a resource is added or removed."""
        return self._revision

    def add(self, rt: ResourceType) -> None:
        """Serve ``rt`` (replacing the resource at the same group/version/resource)."""
        with self._lock:
            self._types[(rt.group, rt.version, rt.resource)] = rt
            self._changed()

    def remove(self, group: str, version: str, resource: str) -> ResourceType | None:
        """Stop serving a resource; returns what was removed (None if it was not served)."""
        with self._lock:
            gone = self._types.pop((group, version, resource), None)
            if gone is not None:
                self._changed()
            return gone

    def _changed(self) -> None:
        self._snapshot = tuple(self._types.values())
        self._revision += 1

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._snapshot)

    def __len__(self) -> int:
        return len(self._snapshot)

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        """The served resource at ``/apis/<group>/<version>/<resource>`` (core: group "")."""
        return self._types.get((group, version, resource))

    def by_kind(self, group: str, kind: str, version: str = "") -> ResourceType | None:
        """The resource whose objects are ``kind`` (in ``version`` if given)."""
        for rt in self._snapshot:
            served = rt.stored or bool(rt.verbs)
            if rt.group == group and rt.kind == kind and served and version in ("", rt.version):
                return rt
        return None

    def stored(self, group: str, resource: str) -> ResourceType | None:
        """A stored resource by group and plural name (any version)."""
        for rt in self._snapshot:
            if rt.stored and rt.group == group and rt.resource == resource:
                return rt
        return None

    def groups(self) -> list[tuple[str, list[str]]]:
        """``(group, [versions])`` in discovery order: built-in groups in kube's order, then
        added groups by name; versions preferred first."""
        seen: dict[str, list[str]] = {}
        for rt in self._snapshot:
            versions = seen.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        order = {g: i for i, g in enumerate(self._builtin_groups)}
        names = sorted(seen, key=lambda g: (order.get(g, len(order)), g))
        out = []
        for name in names:
            versions = seen[name]
            if name not in order:
                versions = sorted(versions, key=version_priority)
            out.append((name, versions))
        return out

    def in_group(self, group: str, version: str) -> list[ResourceType]:
        """The resources of one group version, in discovery order (by name, as kube)."""
        served = [rt for rt in self._snapshot if rt.group == group and rt.version == version]
        return sorted(served, key=lambda rt: rt.resource)


DEFAULT = Registry(TABLE)
"""The built-in resources; what a server starts from (never changed at run time)."""

REGISTRY: web.AppKey[Registry] = web.AppKey("cimp.registry", Registry)


def registry_of(app: web.Application) -> Registry:
    """The registry of an application (the built-ins when it has none of its own)."""
    return app.get(REGISTRY) or DEFAULT


def lookup(group: str, version: str, resource: str) -> ResourceType | None:
    """A built-in resource by path (see :meth:`Registry.lookup`)."""
    return DEFAULT.lookup(group, version, resource)


def by_kind(group: str, kind: str) -> ResourceType | None:
    return DEFAULT.by_kind(group, kind)


def groups() -> list[tuple[str, list[str]]]:
    """The built-in ``(group, [versions])`` in discovery order (core first)."""
    return DEFAULT.groups()


def in_group(group: str, version: str) -> Iterable[ResourceType]:
    return DEFAULT.in_group(group, version)
