"""``metadata.managedFields`` and server-side apply, as kube-apiserver 1.37 keeps them.

Every write records who set which fields: an apply (``PATCH`` with
``application/apply-patch+yaml``) as an ``Apply`` entry of its ``fieldManager``; a create,
update or other patch as an ``Update`` entry of its ``fieldManager``, or of the client's
User-Agent up to the first ``/`` when it names none (``unknown`` when that is empty). A
write to a subresource is recorded with ``subresource`` set. An apply that would change a
field another manager owns fails with 409 naming each manager and field, unless
``force=true`` hands the fields over; fields a manager applied before and no longer
applies are removed unless another manager owns them.

The layers follow k8s.io/apimachinery's ``managedfields/internal`` (decode, version check,
the ``before-first-apply`` manager for objects nobody tracked, the cap of ten ``Update``
managers merged into ``ancient-changes``, manager identities, timestamps, the metadata
fields no one owns) and k8s.io/apiserver's handlers (option validation, User-Agent
managers, timestamps of no-op writes). The merge itself is :mod:`.structured_merge`, on the
schema of the OpenAPI v3 document the server serves for the resource, so any resource the
server gains is handled without a table here (the strategies' reset fields aside).
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from constrained_impersonation._goquote import quote

from . import openapi, resources
from .fieldpath import FieldsError, FieldSet, Path, field, go_json, path_string
from .resources import ResourceType
from .status import StatusError, bad_request, invalid
from .storage import now_rfc3339
from .structured_merge import (
    ABSENT,
    DEDUCED,
    Conflicts,
    Ref,
    Schema,
    TypedError,
    VersionedSet,
    to_field_set,
    validate,
)
from .structured_merge import apply as smd_apply
from .structured_merge import update as smd_update

__all__ = [
    "FIELD_MANAGER_MAX_LENGTH",
    "Applied",
    "ManagedFieldsError",
    "Tracker",
    "detach",
    "keep_timestamps",
    "manager_from_user_agent",
    "record",
    "record_review",
    "record_subresource",
    "tracker",
    "validate_options",
]

Obj = dict[str, Any]
FIELD_MANAGER_MAX_LENGTH = 128
MAX_UPDATE_MANAGERS = 10
_BEFORE_FIRST_APPLY = "before-first-apply"
_ANCIENT = "ancient-changes"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


def _paths(*dotted: str) -> FieldSet:
    return FieldSet.of(*(tuple(field(p) for p in d.split(".")) for d in dotted))


# Fields nobody owns (``stripMetaManager``).
_STRIP = _paths(
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.creationTimestamp",
    "metadata.selfLink",
    "metadata.uid",
    "metadata.clusterName",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.resourceVersion",
)
# What a status write may not set, beyond ``spec`` (the registry strategies' reset fields).
_STATUS_RESETS_METADATA = frozenset(
    {
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("certificates.k8s.io", "podcertificaterequests"),
        ("flowcontrol.apiserver.k8s.io", "flowschemas"),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
        ("internal.apiserver.k8s.io", "storageversions"),
        ("networking.k8s.io", "servicecidrs"),
        ("resource.k8s.io", "devicetaintrules"),
        ("resource.k8s.io", "resourceclaims"),
        ("resource.k8s.io", "resourcepoolstatusrequests"),
        ("scheduling.k8s.io", "podgroups"),
        ("scheduling.k8s.io", "compositepodgroups"),
        ("storage.k8s.io", "csinodes"),
        ("storage.k8s.io", "volumeattachments"),
        ("storagemigration.k8s.io", "storageversionmigrations"),
    }
)
_RESETS: Mapping[tuple[str, str, str], FieldSet] = {
    ("", "pods", "status"): _paths(
        "spec", "metadata.deletionTimestamp", "metadata.ownerReferences"
    ),
    ("apps", "deployments", "status"): _paths("spec", "metadata.labels"),
    ("", "namespaces", "finalize"): _paths("status"),
    ("certificates.k8s.io", "certificatesigningrequests", ""): _paths("spec", "status"),
    ("certificates.k8s.io", "certificatesigningrequests", "status"): _paths(
        "spec", "status.conditions"
    ),
    ("certificates.k8s.io", "certificatesigningrequests", "approval"): _paths(
        "spec", "status.certificate"
    ),
}


def reset_fields(rt: ResourceType, subresource: str) -> FieldSet | None:
    """The fields a write to this endpoint may not set (``GetResetFields``): ``status`` on
    the main resource of a resource with a status subresource, ``spec`` (and for some,
    ``metadata``) on its status subresource."""
    known = _RESETS.get((rt.group, rt.resource, subresource))
    if known is not None:
        return known
    if "status" not in rt.subresources:
        return None
    if subresource == "":
        return _paths("status")
    if subresource == "status":
        if (rt.group, rt.resource) in _STATUS_RESETS_METADATA or not getattr(rt, "builtin", True):
            return _paths("metadata", "spec")
        return _paths("spec")
    return None


# --------------------------------------------------------------------------- options


def _printable(ch: str) -> bool:
    """Go's ``unicode.IsPrint``: letters, marks, numbers, punctuation, symbols and the
    ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _go_rune(ch: str) -> str:
    """Go's ``%#U``: ``U+000A`` (and ``U+0041 'A'`` for a printable rune)."""
    code = f"U+{ord(ch):04X}"
    return f"{code} '{ch}'" if _printable(ch) else code


def _manager_causes(manager: str, path: str) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(
            (
                path,
                "FieldValueTooLong",
                f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes",
            )
        )
    position = 0
    for ch in manager:
        if not _printable(ch):
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {quote(manager)}: invalid character {_go_rune(ch)} "
                    f"(at position {position})",
                )
            )
        position += len(ch.encode())
    return causes


@dataclass(frozen=True)
class Options:
    """The query options of a write, validated as kube's ``Validate*Options``."""

    dry_run: bool
    field_validation: str  # "Ignore", "Strict" or "Warn"
    field_manager: str
    force: bool


def validate_options(kind: str, query: MultiMapping[str], patch_type: str | None = None) -> Options:
    """``kind`` is ``CreateOptions``, ``UpdateOptions`` or ``PatchOptions``; ``patch_type``
    is the patch flavour (``apply`` for server-side apply). Raises the 422 kube answers."""
    manager = query.get("fieldManager", "")
    dry_run = query.getall("dryRun", [])
    validation = query.get("fieldValidation", "")
    raw_force = query.get("force")
    # kube's query decoding: only "0" and "false" (any case) are false, anything else true.
    force = raw_force is not None and raw_force != "0" and raw_force.lower() != "false"
    causes: list[tuple[str, str, str]] = []
    if kind == "PatchOptions":
        if patch_type == "apply":
            if not manager:
                causes.append(
                    (
                        "fieldManager",
                        "FieldValueRequired",
                        "Required value: is required for apply patch",
                    )
                )
        elif raw_force is not None:
            causes.append(
                (
                    "force",
                    "FieldValueForbidden",
                    "Forbidden: may not be specified for non-apply patch",
                )
            )
    causes += _manager_causes(manager, "fieldManager")
    if any(v != "All" for v in dry_run):
        listed = "[" + ",".join(json.dumps(v) for v in dry_run) + "]"
        causes.append(
            (
                "dryRun",
                "FieldValueNotSupported",
                f'Unsupported value: {listed}: supported values: "All"',
            )
        )
    if validation not in _FIELD_VALIDATION:
        causes.append(
            (
                "fieldValidation",
                "FieldValueNotSupported",
                f"Unsupported value: {quote(validation)}: supported values: "
                '"", "Ignore", "Strict", "Warn"',
            )
        )
    if causes:
        raise invalid(kind, "", "meta.k8s.io", causes)
    return Options(bool(dry_run), validation or "Warn", manager, force)


def manager_from_user_agent(user_agent: str | None) -> str:
    """kube's manager for a write that names none: the User-Agent up to its first ``/``,
    printable characters only, at most 128 bytes."""
    out = ""
    size = 0
    for ch in (user_agent or "").split("/")[0]:
        if not _printable(ch):
            continue
        width = len(ch.encode())
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out += ch
        size += width
    return out


# --------------------------------------------------------------------------- encoding


class ManagedFieldsError(ValueError):
    """managedFields that cannot be decoded (kube's ``DecodeManagedFields`` errors)."""


def _go_marshal(entry: Mapping[str, Any]) -> str:
    """``json.Marshal`` of a ManagedFieldsEntry holding only these keys (Go field order)."""
    parts = [
        f"{go_json(k)}:{go_json(entry[k])}"
        for k in ("manager", "operation", "apiVersion", "subresource")
        if entry.get(k)
    ]
    return "{" + ",".join(parts) + "}"


def identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """The key kube tracks a manager by (``BuildManagerIdentifier``): an apply's manager is
    the same whatever the API version."""
    return _go_marshal(
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": api_version if operation != "Apply" else "",
            "subresource": subresource,
        }
    )


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def print_manager(ident: str) -> str:
    """A manager as conflict messages name it: ``"kubectl"``, ``"ctl" with subresource
    "status"``, ``"editor" using v1`` (updates only)."""
    try:
        entry = json.loads(ident)
    except ValueError:
        return quote(ident)
    text = quote(str(entry.get("manager", "")))
    if entry.get("subresource"):
        text += f" with subresource {quote(entry['subresource'])}"
    if entry.get("operation") == "Update":
        text += f" using {entry.get('apiVersion', '')}"
        if entry.get("time"):
            text += f" at {entry['time']}"
    return text


@dataclass
class Managed:
    """Decoded managedFields: each manager's fields and the time of its last change."""

    fields: dict[str, VersionedSet]
    times: dict[str, str | None]

    @classmethod
    def empty(cls) -> Managed:
        return cls({}, {})

    def copy(self) -> Managed:
        return Managed(dict(self.fields), dict(self.times))

    @classmethod
    def decode(cls, entries: Any) -> Managed:
        if entries is None:
            return cls.empty()
        if not isinstance(entries, list):
            raise ManagedFieldsError("managedFields must be a list")
        out = cls.empty()
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ManagedFieldsError("managedFields entries must be objects")
            operation = entry.get("operation")
            if operation not in ("Apply", "Update"):
                raise ManagedFieldsError("operation must be `Apply` or `Update`")
            api_version = entry.get("apiVersion") or ""
            if not api_version:
                raise ManagedFieldsError("apiVersion must not be empty")
            fields_type = entry.get("fieldsType") or ""
            if fields_type == "":
                raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}")
            if fields_type != "FieldsV1":
                raise ManagedFieldsError(
                    f"invalid fieldsType {quote(fields_type)} in managed fields entry {i}"
                )
            ident = identifier(
                str(entry.get("manager") or ""),
                operation,
                str(api_version),
                str(entry.get("subresource") or ""),
            )
            try:
                fields = FieldSet.from_json(entry.get("fieldsV1") or {})
            except FieldsError as exc:
                raise ManagedFieldsError(f"error decoding set: {exc}") from None
            out.fields[ident] = VersionedSet(fields, str(api_version), operation == "Apply")
            time = entry.get("time")
            out.times[ident] = time if isinstance(time, str) else None
        return out

    def encode(self) -> list[Obj] | None:
        if not self.fields:
            return None
        entries: list[Obj] = []
        for ident, vs in self.fields.items():
            parsed = json.loads(ident)
            entry: Obj = {"manager": parsed.get("manager", "")}
            entry["operation"] = "Apply" if vs.applied else parsed.get("operation", "Update")
            entry["apiVersion"] = vs.api_version
            time = self.times.get(ident)
            if time:
                entry["time"] = time
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = vs.fields.to_json()
            if parsed.get("subresource"):
                entry["subresource"] = parsed["subresource"]
            entries.append(entry)
        entries.sort(
            key=lambda e: (
                e["operation"],
                _seconds(e.get("time")),
                e["manager"],
                e["apiVersion"],
                e.get("subresource", ""),
            )
        )
        return entries


def _is_reset(entries: Any) -> bool:
    """``managedFields: []`` or ``[{}]`` in a request clears the record."""
    return isinstance(entries, list) and (
        not entries or (len(entries) == 1 and entries[0] in ({}, None))
    )


def _cap_updaters(managed: Managed) -> None:
    """Merge the oldest ``Update`` managers beyond ten into ``ancient-changes`` (one per
    API version), as ``capManagersManager``."""
    updaters = [m for m, vs in managed.fields.items() if not vs.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda m: (_seconds(managed.times.get(m)), m))
    first: dict[str, str] = {}
    length = len(updaters)
    for manager in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        vs = managed.fields[manager]
        time = managed.times.get(manager)
        bucket = identifier(_ANCIENT, "Update", vs.api_version, "")
        if vs.api_version in first:
            if bucket not in managed.fields:
                earliest = first[vs.api_version]
                managed.fields[bucket] = managed.fields.pop(earliest)
                managed.times.pop(earliest, None)
            merged = vs.fields.union(managed.fields[bucket].fields)
            managed.fields[bucket] = VersionedSet(merged, vs.api_version, vs.applied)
            del managed.fields[manager]
            managed.times.pop(manager, None)
            managed.times[bucket] = time
            length -= 1
        else:
            first[vs.api_version] = manager


# --------------------------------------------------------------------------- schemas


_SCHEMAS: dict[tuple[int, int, str, str], Schema] = {}


def _document(rt: ResourceType, registry: Any) -> Any:
    get: Any = openapi.v3_document
    try:
        try:
            return get(rt.group, rt.version, registry) if registry is not None else None
        except TypeError:  # a server whose documents do not depend on the registry
            pass
        return get(rt.group, rt.version)
    except (KeyError, ValueError, TypeError):  # no usable document: track by deduced types
        return None


def schema_for(rt: ResourceType, registry: Any = None) -> tuple[Schema, Ref]:
    """The structured-merge schema of ``rt``'s kind, from the OpenAPI v3 document the
    server serves for it (``registry``: the application's, for its custom resources); a
    deduced schema (every object granular, every list atomic) when it has none."""
    key = (id(registry), getattr(registry, "revision", 0), rt.group, rt.version)
    schema = _SCHEMAS.get(key)
    if schema is None:
        document = _document(rt, registry)
        components = ((document or {}).get("components") or {}).get("schemas") or {}
        schema = _SCHEMAS[key] = Schema(components)
    ref = schema.type_for(rt.group, rt.version, rt.kind)
    if ref is None or schema.resolve(ref) is None:
        return schema, DEDUCED
    return schema, ref


def _zero(schema: Schema, ref: Ref, depth: int = 0) -> Any:
    """The unstructured form of an empty typed object (``runtime.Object`` from ``New()``):
    non-pointer structs present and empty, required fields at their zero value."""
    atom = schema.resolve(ref)
    if atom is None or atom.map is None or depth > 32:
        return {}
    out: Obj = {}
    required = _required(schema, ref)
    for name, fd in atom.map.fields.items():
        sub = schema.resolve(fd.type)
        if isinstance(fd.default, dict) and not fd.default and sub is not None and sub.map:
            out[name] = _zero(schema, fd.type, depth + 1)
        elif name in required and sub is not None:
            if sub.scalar == "string":
                out[name] = ""
            elif sub.scalar == "numeric":
                out[name] = 0
            elif sub.scalar == "boolean":
                out[name] = False
            elif sub.list is not None or sub.map is not None:
                out[name] = None
    return out


def _required(schema: Schema, ref: Ref) -> frozenset[str]:
    spec = schema.component(ref.name) if ref.name else None
    names = spec.get("required") if isinstance(spec, dict) else None
    return (
        frozenset(n for n in names if isinstance(n, str))
        if isinstance(names, list)
        else frozenset()
    )


# --------------------------------------------------------------------------- errors


class _InternalStatus(StatusError):
    """kube's ``NewInternalError``-less 500: a plain error turned into a Status (no reason,
    no details)."""

    def body(self) -> dict[str, Any]:
        out = super().body()
        out.pop("reason", None)
        out.pop("details", None)
        return out


def _internal(message: str) -> StatusError:
    return _InternalStatus(500, "", message)


def _conflict_error(conflicts: Conflicts) -> StatusError:
    items = conflicts.conflicts
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {print_manager(c.manager)}",
            "field": path_string(c.path),
        }
        for c in items
    ]
    if len(items) == 1:
        message = (
            f"Apply failed with 1 conflict: conflict with {print_manager(items[0].manager)}: "
            f"{path_string(items[0].path)}"
        )
    else:
        by_manager: dict[str, list[Path]] = {}
        for c in items:
            by_manager.setdefault(c.manager, []).append(c.path)
        lines: list[str] = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {print_manager(manager)}:")
            lines += [f"- {path_string(p)}" for p in by_manager[manager]]
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


# --------------------------------------------------------------------------- the tracker


class Tracker:
    """The field manager of one endpoint (a resource, or one of its subresources)."""

    def __init__(
        self,
        rt: ResourceType,
        subresource: str = "",
        registry: Any = None,
        body: tuple[str, str] | None = None,
    ) -> None:
        """``body``: the (apiVersion, kind) a subresource takes when it is not the
        resource's own (a TokenRequest for ``serviceaccounts/token``)."""
        self.rt = rt
        self.subresource = subresource
        self.schema, self.ref = schema_for(rt, registry)
        self.api_version, self.kind = rt.api_version, rt.kind
        if body is not None and body != (rt.api_version, rt.kind):
            self.api_version, self.kind = body
            group, _, version = body[0].rpartition("/")
            self.ref = self.schema.type_for(group, version, body[1]) or DEDUCED
        self.reset = reset_fields(rt, subresource)

    # ------------------------------------------------------------------ helpers

    def _ident(self, manager: str, operation: str) -> str:
        return identifier(manager or "unknown", operation, self.api_version, self.subresource)

    def _empty_object(self) -> Obj:
        zero = _zero(self.schema, self.ref)
        return {"apiVersion": self.api_version, "kind": self.kind, **zero}

    def _strip(self, managed: Managed, ident: str) -> None:
        vs = managed.fields.get(ident)
        if vs is None:
            return
        rest = vs.fields.difference(_STRIP)
        if rest.empty():
            del managed.fields[ident]
        else:
            managed.fields[ident] = VersionedSet(rest, vs.api_version, vs.applied)

    @staticmethod
    def _view(obj: Obj | None, without: tuple[tuple[str, str], ...] = ()) -> Obj:
        """The object as the merge sees it: without managedFields (nor ``without``)."""
        if obj is None:
            return {}
        out = dict(obj)
        meta = out.get("metadata")
        if isinstance(meta, dict) and "managedFields" in meta:
            out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
        for top, name in without:
            part = out.get(top)
            if isinstance(part, dict) and name in part:
                out[top] = {k: v for k, v in part.items() if k != name}
        return out

    def _record_update(self, live: Obj, new: Obj, managed: Managed, manager: str) -> Managed:
        """One Update through the chain (cap, identity, timestamp, strip, merge)."""
        ident = self._ident(manager, "Update")
        managed = managed.copy()
        fields, touched = smd_update(
            self.schema,
            self.ref,
            live,
            new,
            managed.fields,
            ident,
            self.api_version,
            self.reset,
            _STRIP,
        )
        managed.fields = fields
        if touched:
            managed.times[ident] = now_rfc3339()
        _cap_updaters(managed)
        return managed

    # ------------------------------------------------------------------ writes

    def update(
        self,
        live: Obj | None,
        new: Obj,
        sent: Any,
        manager: str,
        unrecorded: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Record a create (``live`` None), update or non-apply patch: set ``new``'s
        managedFields. ``sent`` is what the request's object carried (``ABSENT`` if
        nothing); ``unrecorded`` fields were set after kube's field manager would run."""
        live_entries = ((live or {}).get("metadata") or {}).get("managedFields")
        try:
            live_managed = Managed.decode(live_entries)
        except ManagedFieldsError:
            live_managed = Managed.empty()
        if self.subresource or sent is ABSENT:
            managed = live_managed
        elif _is_reset(sent):
            managed = Managed.empty()
        else:
            try:
                managed = Managed.decode(sent)
            except ManagedFieldsError:
                managed = live_managed
            if not managed.fields:
                managed = live_managed
        meta = new.setdefault("metadata", {})
        meta.pop("managedFields", None)
        if not managed.fields and live is not None and (live.get("metadata") or {}).get("uid"):
            return  # an object nobody tracked stays untracked until it is applied to
        try:
            managed = self._record_update(
                self._view(live) if live is not None else self._empty_object(),
                self._view(new, unrecorded),
                managed,
                manager,
            )
        except TypedError:
            managed = live_managed  # kube keeps the live record when it cannot compute one
        entries = managed.encode()
        if entries is not None:
            meta["managedFields"] = entries

    def check_config(self, config: Obj) -> None:
        """The checks of an applied configuration that come before any merge."""
        api_version, kind = config.get("apiVersion"), config.get("kind")
        if api_version != self.api_version or kind != self.kind:
            raise bad_request(
                f"invalid object type: {_gvk_string(str(api_version or ''), str(kind or ''))}"
            )
        meta = config.get("metadata")
        if isinstance(meta, dict) and meta.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        try:
            validate(self.schema, config, self.ref)
        except TypedError as exc:
            raise _internal(
                f"failed to create typed patch object ({self._describe(config)}): {exc}"
            ) from None

    def _describe(self, obj: Obj) -> str:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        group, _, version = self.api_version.rpartition("/")
        return (
            f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; "
            f"{group}/{version}, Kind={self.kind}"
        )

    def apply(self, live: Obj | None, config: Obj, manager: str, force: bool) -> Obj:
        """Merge an applied configuration into ``live`` (None: the object does not exist);
        the new object, with its managedFields. Raises the Status kube answers (409 for
        conflicts)."""
        self.check_config(config)
        live_meta = (live or {}).get("metadata") or {}
        try:
            managed = Managed.decode(live_meta.get("managedFields"))
        except ManagedFieldsError as exc:
            raise _internal(f"failed to decode managed fields: {exc}") from None
        base = self._view(live) if live is not None else self._empty_object()
        if not managed.fields and live is not None:
            managed = self._record_update(self._empty_object(), base, managed, _BEFORE_FIRST_APPLY)
        ident = self._ident(manager, "Apply")
        try:
            merged, fields = self._apply(base, config, managed, ident, force)
        except Conflicts as conflicts:
            allowed = self._allowed_by_last_applied(manager, live, base)
            rest = [c for c in conflicts.conflicts if allowed is None or not allowed.has(c.path)]
            if allowed is None or rest:
                raise _conflict_error(
                    Conflicts(rest) if allowed is not None else conflicts
                ) from None
            merged, fields = self._apply(base, config, managed, ident, True)
        managed = Managed(fields, dict(managed.times))
        if merged is ABSENT:
            out = copy.deepcopy(base)
        else:
            out = merged
            managed.times[ident] = now_rfc3339()
        self._strip(managed, ident)
        if manager == "kubectl" and _LAST_APPLIED in (
            (out.get("metadata") or {}).get("annotations") or {}
        ):
            self._set_last_applied(out, config)
        meta = out.setdefault("metadata", {})
        if not isinstance(meta, dict):
            meta = out["metadata"] = {}
        meta["managedFields"] = Applied(managed.encode() or [])
        return out

    def _apply(
        self, base: Obj, config: Obj, managed: Managed, ident: str, force: bool
    ) -> tuple[Any, dict[str, VersionedSet]]:
        try:
            return smd_apply(
                self.schema,
                self.ref,
                base,
                config,
                dict(managed.fields),
                ident,
                self.api_version,
                force,
                self.reset,
            )
        except TypedError as exc:
            raise _internal(f"failed to merge config: {exc}") from None

    # ------------------------------------------------------------------ kubectl migration

    def _allowed_by_last_applied(
        self, manager: str, live: Obj | None, base: Obj
    ) -> FieldSet | None:
        """For ``kubectl``'s first server-side apply after client-side ones: the fields
        its last-applied annotation set and nobody changed since (they may be taken)."""
        if manager != "kubectl" or live is None:
            return None
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        text = annotations.get(_LAST_APPLIED) if isinstance(annotations, dict) else None
        if not text:
            return None
        try:
            last = json.loads(text)
        except ValueError:
            return None
        if not isinstance(last, dict) or last.get("apiVersion") != self.api_version:
            return None
        from .structured_merge import compare

        try:
            validate(self.schema, last, self.ref)
            fields = to_field_set(self.schema, last, self.ref)
            cmp = compare(self.schema, last, base, self.ref)
        except TypedError:
            return None
        return fields.difference(cmp.modified).difference(cmp.added).difference(cmp.removed)

    @staticmethod
    def _set_last_applied(out: Obj, config: Obj) -> None:
        applied = copy.deepcopy(config)
        meta = applied.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            meta["annotations"].pop(_LAST_APPLIED, None)
        text = go_json(applied, sort_keys=True) + "\n"
        out["metadata"].setdefault("annotations", {})[_LAST_APPLIED] = text


class Applied(list[Any]):
    """The managedFields an apply computed, carried in the merged object through the
    write path (:func:`detach`, :func:`record`) and stored as they are."""


# Fields kube's registry strategies and admission plugins set on create after its field
# manager recorded the request, so nobody owns them (the namespace's finalizer; a pod's
# priority, preemption policy, default tolerations and service account, from admission);
# this server sets them with the scheme defaults.
# A group is left out only when the request set none of its fields.
_SET_AFTER_RECORDING: Mapping[tuple[str, str], tuple[tuple[tuple[str, str], ...], ...]] = {
    ("v1", "Namespace"): ((("spec", "finalizers"),),),
    ("v1", "Pod"): (
        (("spec", "priority"),),
        (("spec", "preemptionPolicy"),),
        (("spec", "tolerations"),),
        (("spec", "serviceAccountName"), ("spec", "serviceAccount")),
    ),
}


@dataclass(frozen=True)
class _Sent:
    """What a request's object carried, taken before the strategies change it."""

    entries: Any  # its managedFields (ABSENT if none)
    unset: tuple[tuple[str, str], ...]  # fields of _SET_AFTER_RECORDING it left out


def detach(obj: Obj) -> Any:
    """Take the managedFields out of an object a request made, before the strategies reset
    system fields and set theirs; pass the result to :func:`record`."""
    meta = obj.get("metadata")
    entries = ABSENT
    if isinstance(meta, dict) and "managedFields" in meta:
        entries = meta.pop("managedFields")
        if isinstance(entries, Applied):
            return entries
    unset: list[tuple[str, str]] = []
    for group in _SET_AFTER_RECORDING.get((str(obj.get("apiVersion")), str(obj.get("kind"))), ()):
        if not any(isinstance(obj.get(a), dict) and b in obj[a] for a, b in group):
            unset.extend(group)
    return _Sent(entries, tuple(unset))


def _registry(request: web.Request) -> Any:
    registry = getattr(resources, "registry_of", None)
    return registry(request.app) if registry is not None else None


def tracker(request: web.Request, rt: ResourceType, subresource: str) -> Tracker:
    """The field manager of a request's endpoint."""
    return Tracker(rt, subresource, _registry(request))


def record(
    request: web.Request,
    rt: ResourceType,
    subresource: str,
    live: Obj | None,
    obj: Obj,
    sent: Any,
) -> None:
    """Set ``obj``'s managedFields for this write: those an apply computed, else an Update
    by the request's ``fieldManager`` (or User-Agent)."""
    meta = obj.setdefault("metadata", {})
    if isinstance(sent, Applied):
        meta.pop("managedFields", None)
        if sent:
            meta["managedFields"] = list(sent)
    else:
        entries, unset = (sent.entries, sent.unset) if isinstance(sent, _Sent) else (sent, ())
        tracker = Tracker(rt, subresource, _registry(request))
        tracker.update(live, obj, entries, _manager(request), () if live else unset)
    if live is not None:
        keep_timestamps(live, obj)


# Reviews whose REST storage answers a new object, not the request's (no managedFields).
_NEW_OBJECT_REVIEWS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    }
)


def _manager(request: web.Request) -> str:
    return request.query.get("fieldManager") or manager_from_user_agent(
        request.headers.get("User-Agent")
    )


def record_review(request: web.Request, rt: ResourceType, body: Obj) -> list[Obj] | None:
    """The managedFields kube's create handler gives a review (an Update of what the
    request set), set in ``body`` and returned (None when the answer is a new object)."""
    if (rt.group, rt.resource) in _NEW_OBJECT_REVIEWS:
        return None
    sent = detach(body)
    Tracker(rt, "", _registry(request)).update(None, body, sent, _manager(request))
    entries = (body.get("metadata") or {}).get("managedFields")
    return entries if isinstance(entries, list) else None


def record_subresource(
    request: web.Request, rt: ResourceType, subresource: str, body: Obj, result: Any
) -> None:
    """A create on a subresource (``serviceaccounts/token``): kube records what the request
    set, as an Update with the subresource, and answers with it."""
    body = copy.deepcopy(body)
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if not isinstance(result, dict) or not isinstance(api_version, str) or not kind:
        return
    tracker = Tracker(rt, subresource, _registry(request), (api_version, str(kind)))
    tracker.update(None, body, detach(body), _manager(request))
    entries = (body.get("metadata") or {}).get("managedFields")
    if entries:
        meta = result.setdefault("metadata", {})
        if isinstance(meta, dict):
            meta["managedFields"] = entries


def keep_timestamps(old: Obj, new: Obj) -> None:
    """A write that changes nothing but managedFields timestamps keeps the old ones, so it
    stores nothing new (``IgnoreManagedFieldsTimestampsTransformer``)."""
    old_entries = (old.get("metadata") or {}).get("managedFields")
    new_entries = (new.get("metadata") or {}).get("managedFields")
    if not isinstance(old_entries, list) or not isinstance(new_entries, list):
        return
    if len(old_entries) != len(new_entries) or not new_entries:
        return
    if all(a.get("time") == b.get("time") for a, b in zip(old_entries, new_entries, strict=True)):
        return

    def timeless(entries: list[Any]) -> list[Any]:
        return [{k: v for k, v in e.items() if k != "time"} for e in entries]

    if timeless(old_entries) != timeless(new_entries):
        return

    def without(obj: Obj) -> Obj:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        return {**obj, "metadata": meta}

    if without(old) != without(new):
        return
    for old_entry, new_entry in zip(old_entries, new_entries, strict=True):
        if "time" in old_entry:
            new_entry["time"] = old_entry["time"]
        else:
            new_entry.pop("time", None)
