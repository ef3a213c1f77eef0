"""The ``scale`` subresource of custom resources, as apiextensions-apiserver's ``ScaleREST``.

A ``GET`` answers an ``autoscaling/v1`` Scale built from the version's ``specReplicasPath``,
``statusReplicasPath`` and ``labelSelectorPath`` (500 when the spec replicas are missing).
``PUT`` and ``PATCH`` (JSON, merge, apply) change only the spec replicas, through the write
path of the custom resource (admission, the CRD's validation, preconditions, ``dryRun``).

Field ownership goes through kube's ``ScaleHandler``: the custom resource's managedFields are
converted into the Scale's (a manager that owns the replicas path of its API version owns
``.spec.replicas``, as ``autoscaling/v1``), the Scale's field manager records the write, and
the result is converted back (managers that lost the replicas lose the path; new ones own it
under the endpoint's version, without a time). kube's quirks follow from doing the same:
a ``PUT`` without apiVersion or kind is not recorded (its field manager cannot type it), a
new owner's entry may collide with an older one of the same name, and a server-side apply
finds no owner to start from (500) or fails to convert a Scale that changes (500), so only
applies that change nothing succeed.

Bodies are decoded as the Scale scheme of the CRD handler decodes them: any failure of a
``PUT`` body is ``no kind is registered for the type v1.Scale``; a patched Scale that does not
decode is a 422 naming the patched JSON.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import managed_fields, schema
from ..bodies import (
    PATCH_TYPES,
    Output,
    decode_json,
    decode_yaml,
    json_response,
    media_type,
    negotiate,
    not_an_object,
    read_body,
)
from ..context import RequestContext
from ..fieldpath import FieldSet, Path
from ..fieldpath import field as field_element
from ..managed_fields import Applied, Managed, ManagedFieldsError, validate_options
from ..patch import PatchError, apply_json_patch, merge_patch
from ..status import (
    StatusError,
    bad_request,
    conflict,
    internal_error,
    unsupported_media_type,
)
from ..storage import Record
from ..structured_merge import ABSENT, VersionedSet
from .errors import patch_invalid
from .goformat import go_json, quote
from .model import Definition, Version
from .served import CustomResourceStrategy, method_not_supported

if TYPE_CHECKING:
    from ..handlers import Target
    from ..writes import Writes

__all__ = ["serve"]

Obj = dict[str, Any]
API_VERSION = "autoscaling/v1"
_INVALID_REPLICAS = -2147483648  # kube's marker for "the spec replicas were not set"
_REPLICAS: Path = (field_element("spec"), field_element("replicas"))
_NO_KIND = 'no kind is registered for the type v1.Scale in scheme "pkg/runtime/scheme.go:111"'
_SCHEME = '"pkg/runtime/scheme.go:111"'
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
_CONVERT = "request to convert CR to an invalid group/version: autoscaling/v1"


# --------------------------------------------------------------------------- the Scale


def _split(path: str) -> list[str]:
    return path.removeprefix(".").split(".")


def _nested(obj: Obj, path: str) -> tuple[Any, bool]:
    value: Any = obj
    for name in _split(path):
        if not isinstance(value, dict) or name not in value:
            return None, False
        value = value[name]
    return value, True


def _int64(obj: Obj, path: str) -> tuple[int, bool]:
    """``unstructured.NestedInt64``: 0 when absent; an accessor error for another type."""
    value, found = _nested(obj, path)
    if not found:
        return 0, False
    if isinstance(value, bool) or not isinstance(value, int):
        kind = {str: "string", float: "float64", bool: "bool", list: "[]interface {}"}.get(
            type(value), "map[string]interface {}"
        )
        raise internal_error(
            f"{path} accessor error: {value} is of the type {kind}, expected int64"
        )
    return value, True


def scale_paths(version: Version) -> Obj:
    return version.scale or {}


def scale_of(cr: Obj, paths: Obj) -> tuple[Obj, bool]:
    """``scaleFromCustomResource``: the Scale (in Go's field order) and whether the spec
    replicas were there."""
    spec_replicas, found = _int64(cr, str(paths.get("specReplicasPath") or ".spec.replicas"))
    status_replicas, _ = _int64(cr, str(paths.get("statusReplicasPath") or ".status.replicas"))
    selector = ""
    if paths.get("labelSelectorPath"):
        value, present = _nested(cr, str(paths["labelSelectorPath"]))
        if present and value is not None:
            if not isinstance(value, str):
                raise internal_error(
                    f"{paths['labelSelectorPath']} accessor error: {value} is of the type "
                    "float64, expected string"
                )
            selector = value
    meta = cr.get("metadata") or {}
    out_meta: Obj = {"name": meta.get("name", "")}
    for key in ("namespace", "uid", "resourceVersion", "creationTimestamp"):
        if meta.get(key):
            out_meta[key] = meta[key]
    status: Obj = {"replicas": status_replicas}
    if selector:
        status["selector"] = selector
    scale = {
        "kind": "Scale",
        "apiVersion": API_VERSION,
        "metadata": out_meta,
        "spec": {"replicas": spec_replicas} if spec_replicas else {},
        "status": status,
    }
    return scale, found


# --------------------------------------------------------------------------- managed fields


def _path(dotted: str) -> Path:
    return tuple(field_element(name) for name in _split(dotted))


def replicas_paths(crd: Definition) -> dict[str, Path | None]:
    """``replicasPathInCustomResource``: each version's spec replicas path (None without a
    scale subresource)."""
    out: dict[str, Path | None] = {}
    for v in crd.versions:
        scale = v.scale
        spec_path = str((scale or {}).get("specReplicasPath") or "")
        out[f"{crd.group}/{v.name}"] = _path(spec_path) if scale is not None else None
    return out


def _decode(entries: Any) -> Managed:
    try:
        return Managed.decode(entries)
    except ManagedFieldsError:
        return Managed.empty()


def to_subresource(entries: Any, mappings: dict[str, Path | None]) -> list[Obj]:
    """``ScaleHandler.ToSubresource``."""
    managed = _decode(entries)
    out = Managed.empty()
    for ident, vs in managed.fields.items():
        path = mappings.get(vs.api_version)
        if path is None or not vs.fields.has(path):
            continue
        out.fields[ident] = VersionedSet(FieldSet.of(_REPLICAS), API_VERSION, vs.applied)
        out.times[ident] = managed.times.get(ident)
    return out.encode() or []


def to_parent(
    parent_entries: Any, scale_entries: Any, mappings: dict[str, Path | None], parent_gv: str
) -> list[Obj]:
    """``ScaleHandler.ToParent``."""
    parent = _decode(parent_entries)
    scale = _decode(scale_entries)
    out = Managed.empty()
    for ident, vs in parent.fields.items():
        if vs.api_version not in mappings:
            continue
        path = mappings[vs.api_version]
        if path is None or not vs.fields.has(path):
            out.fields[ident] = vs
            out.times[ident] = parent.times.get(ident)
            continue
        if ident not in scale.fields:
            rest = vs.fields.difference(FieldSet.of(path))
            if not rest.empty():
                out.fields[ident] = VersionedSet(rest, vs.api_version, vs.applied)
                out.times[ident] = parent.times.get(ident)
        else:
            out.fields[ident] = vs
            out.times[ident] = parent.times.get(ident)
            del scale.fields[ident]
    own = mappings.get(parent_gv)
    for ident, vs in scale.fields.items():
        if not vs.fields.has(_REPLICAS):
            continue
        fields = FieldSet.of(own) if own is not None else FieldSet()
        out.fields[ident] = VersionedSet(fields, parent_gv, vs.applied)
        out.times[ident] = parent.times.get(ident)
    return out.encode() or []


# --------------------------------------------------------------------------- decoding


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _decode_error(scale: Obj, mode: str) -> str | None:
    """Why a patched Scale does not decode (kube's codec), or None."""
    api_version, kind = str(scale.get("apiVersion") or ""), str(scale.get("kind") or "")
    if api_version != API_VERSION or kind != "Scale":
        return (
            f"no kind {quote(kind)} is registered for version {quote(api_version)} "
            f"in scheme {_SCHEME}"
        )
    try:
        unknown = schema.check(API_VERSION, "Scale", copy.deepcopy(scale))
    except schema.SchemaError as exc:
        return str(exc)
    if unknown and mode == "Strict":
        return "strict decoding error: " + ", ".join(f"unknown field {quote(p)}" for p in unknown)
    return None


def _warnings(scale: Obj, mode: str) -> list[str]:
    if mode != "Warn":
        return []
    try:
        unknown = schema.check(API_VERSION, "Scale", copy.deepcopy(scale))
    except schema.SchemaError:
        return []
    return [f"unknown field {quote(p)}" for p in unknown]


def _sorted(value: Any) -> Any:
    return dict(sorted(value.items())) if isinstance(value, dict) else value


def _merge_order(merged: Any, patch: Any) -> Any:
    """A merge-patched document as evanphx/json-patch marshals it: the objects the patch
    went into with sorted keys, the others as they were."""
    if not isinstance(merged, dict) or not isinstance(patch, dict):
        return merged
    out = _sorted(merged)
    for key, value in patch.items():
        if key in out and isinstance(value, dict):
            out[key] = _merge_order(out[key], value)
    return out


def _json_patch_order(doc: Any, operations: Any) -> Any:
    """The same for a JSON patch: the objects along each operation's paths sorted."""
    out = _sorted(doc)
    for op in operations if isinstance(operations, list) else ():
        for key in ("path", "from"):
            path = op.get(key) if isinstance(op, dict) else None
            if not isinstance(path, str) or not path.startswith("/"):
                continue
            node = out
            for raw in path[1:].split("/")[:-1]:
                token = raw.replace("~1", "/").replace("~0", "~")
                child = node.get(token) if isinstance(node, dict) else None
                if not isinstance(child, dict):
                    break
                node[token] = child = _sorted(child)
                node = child
    return out


def _check_name(scale: Obj, name: str, namespace: str) -> None:
    meta = scale.get("metadata") if isinstance(scale.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    given = meta.get("name") or ""
    if not given:
        raise bad_request(
            f"the name of the object ({name} based on URL) was undeterminable: "
            "name must be provided"
        )
    if given != name:
        raise bad_request(
            f"the name of the object ({given}) does not match the name on the URL ({name})"
        )
    given_ns = meta.get("namespace") or ""
    if namespace and given_ns and given_ns != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def _client_rv(scale: Obj) -> int | None:
    raw = str((scale.get("metadata") or {}).get("resourceVersion") or "")
    if not raw:
        return None
    if not raw.isdigit():
        raise StatusError(500, "", f"strconv.ParseUint: parsing {quote(raw)}: invalid syntax")
    return int(raw)


def _view(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


# --------------------------------------------------------------------------- serving


async def serve(
    strategy: CustomResourceStrategy,
    request: web.Request,
    ctx: RequestContext,
    target: Target,
    writes: Writes,
) -> web.StreamResponse:
    rt = target.rt
    method = request.method.upper()
    version = strategy.served.versions.get(rt.version)
    paths = scale_paths(version) if version is not None else {}
    spec_path = str(paths.get("specReplicasPath") or ".spec.replicas")
    if method in ("GET", "HEAD"):
        output = negotiate(request.headers.get("Accept"))
        record = writes._get(rt, target.namespace, target.name)
        scale, found = scale_of(record.obj, paths)
        if not found:
            raise internal_error(f"the spec replicas field {quote(spec_path)} does not exist")
        return json_response(scale, output=output)
    if (unsupported := method_not_supported(rt, method)) is not None:
        raise unsupported
    if method not in ("PUT", "PATCH"):
        raise StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    output = negotiate(request.headers.get("Accept"), allow=(Output.JSON, Output.YAML))
    mappings = replicas_paths(strategy.served.crd)
    tracker = managed_fields.Tracker(
        rt, "scale", managed_fields._registry(request), (API_VERSION, "Scale")
    )
    manager = managed_fields._manager(request)
    warnings: list[str] = []
    transform: Callable[[Obj], Obj]

    if method == "PUT":
        opts = validate_options("UpdateOptions", request.query)
        data = await read_body(request)
        try:
            body = (
                decode_yaml(data)
                if "yaml" in media_type(request.headers.get("Content-Type"))
                else decode_json(data)
            )
        except StatusError:
            raise bad_request(_NO_KIND) from None
        if not isinstance(body, dict):
            raise bad_request(_NO_KIND)
        typed = bool(body.get("apiVersion")) and bool(body.get("kind"))
        if (body.get("apiVersion") or API_VERSION) != API_VERSION or (
            body.get("kind") or "Scale"
        ) != "Scale":
            raise bad_request(_NO_KIND)
        if _decode_error(
            {**body, "apiVersion": API_VERSION, "kind": "Scale"}, opts.field_validation
        ):
            raise bad_request(_NO_KIND)
        warnings = _warnings(body, opts.field_validation)
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}
        _check_name(body, target.name, target.namespace)

        def put(old_scale: Obj) -> Obj:
            new = copy.deepcopy(body)
            if typed:
                tracker.update(old_scale, new, ABSENT, manager)
            else:  # kube's field manager cannot type it: the owners stay as they were
                new["metadata"].pop("managedFields", None)
                if "managedFields" in old_scale["metadata"]:
                    new["metadata"]["managedFields"] = old_scale["metadata"]["managedFields"]
            return new

        transform = put
    else:
        content_type = media_type(request.headers.get("Content-Type"))
        ptype = PATCH_TYPES.get(content_type)
        if ptype not in ("json", "merge", "apply"):
            raise unsupported_media_type(content_type, _PATCH_TYPES)
        opts = validate_options("PatchOptions", request.query, ptype)
        data = await read_body(request)
        if ptype == "apply":
            config = decode_yaml(data)
            if not isinstance(config, dict):
                raise not_an_object(config)

            def apply(old_scale: Obj) -> Obj:
                gvk = (str(config.get("apiVersion") or ""), str(config.get("kind") or ""))
                if gvk != (API_VERSION, "Scale"):
                    raise bad_request(f"invalid object type: {_gvk_string(*gvk)}")
                if not _decode(old_scale["metadata"].get("managedFields")).fields:
                    raise StatusError(
                        500,
                        "",
                        "failed to create manager for existing fields: failed to convert live "
                        f"object (/; autoscaling/v1, Kind=Scale) to proper version: {_CONVERT}",
                    )
                merged = tracker.apply(old_scale, config, opts.field_manager, opts.force)
                if _view(merged) != _view(old_scale):
                    meta = (
                        config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
                    )
                    assert isinstance(meta, dict)
                    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
                    raise StatusError(
                        500,
                        "",
                        f"failed to convert new object ({where}; autoscaling/v1, Kind=Scale) "
                        f"to proper version: {_CONVERT}",
                    )
                return merged

            transform = apply
        else:
            doc = decode_json(data, prefix="")

            def patch(old_scale: Obj) -> Obj:
                current = copy.deepcopy(old_scale)
                try:
                    if ptype == "merge":
                        patched = _merge_order(merge_patch(current, doc), doc)
                    else:
                        patched = _json_patch_order(apply_json_patch(current, doc), doc)
                except PatchError as err:
                    if err.code == 422 or ptype == "json":
                        raise StatusError(
                            422,
                            "Invalid",
                            "the server rejected our request due to an error in our request",
                            {},
                        ) from None
                    raise StatusError(err.code, "BadRequest", err.message) from None
                if not isinstance(patched, dict):
                    raise patch_invalid(go_json(patched, sort_keys=False), _NO_KIND)
                why = _decode_error(patched, opts.field_validation)
                if why is not None:
                    raise patch_invalid(go_json(patched, sort_keys=False), why)
                warnings[:] = _warnings(patched, opts.field_validation)
                if not isinstance(patched.get("metadata"), dict):
                    patched["metadata"] = {}
                _check_name(patched, target.name, target.namespace)
                tracker.update(old_scale, patched, ABSENT, manager)
                return patched

            transform = patch

    def compute(old: Record) -> Obj:
        cr = copy.deepcopy(old.obj)
        parent_entries = (cr.get("metadata") or {}).get("managedFields")
        old_scale, found = scale_of(cr, paths)
        if not found:
            old_scale["spec"] = {"replicas": _INVALID_REPLICAS}
        if entries := to_subresource(parent_entries, mappings):
            old_scale["metadata"]["managedFields"] = entries
        new_scale = transform(old_scale)
        replicas = (new_scale.get("spec") or {}).get("replicas") or 0
        if replicas == _INVALID_REPLICAS:
            raise bad_request(f"the spec replicas field {quote(spec_path)} cannot be empty")
        target_obj: Any = cr
        names = _split(spec_path)
        for name in names[:-1]:
            if not isinstance(target_obj.get(name), dict):
                target_obj[name] = {}
            target_obj = target_obj[name]
        target_obj[names[-1]] = replicas
        client_rv = _client_rv(new_scale)
        if client_rv is not None and client_rv != old.rv:
            raise conflict(rt.resource, target.name, rt.group)
        new_entries = to_parent(
            parent_entries,
            (new_scale.get("metadata") or {}).get("managedFields"),
            mappings,
            rt.api_version,
        )
        cr.setdefault("metadata", {})["managedFields"] = Applied(new_entries)
        return cr

    response = await writes._replace(request, ctx, target, compute, None, opts.dry_run, warnings)
    assert isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray)
    written = json.loads(response.body)
    record = strategy.present(rt, Record.of(written, int(written["metadata"]["resourceVersion"])))
    scale, _ = scale_of(record.obj, paths)
    return json_response(scale, response.status, output=output, warnings=warnings)
