"""Write verbs: create, update, patch, delete, deletecollection and the write subresources.

The order of checks follows kube-apiserver's handlers: decode (400/415), typed decoding with
field validation (400 ``strict decoding error`` or ``Warning`` headers), name/namespace
consistency with the URL (400), namespace lifecycle (404/403), admission, validation (422),
then storage (409 on conflicts). ``dryRun=All`` runs every step but the last.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiMapping

from constrained_impersonation._authz.base import Decision
from constrained_impersonation.resolver import Attributes

from . import graceful, managed_fields, objects, schema
from .bodies import (
    PATCH_TYPES,
    decode_json,
    decode_object_async,
    decode_yaml,
    json_response,
    media_type,
    not_an_object,
    off_loop,
    raw_response,
    read_body,
)
from .context import RequestContext
from .hooks import Admission, Extensions
from .lifecycle import BACKGROUND, FOREGROUND, ORPHAN, Lifecycle
from .listing import parse_list_options, parse_resource_version, predicate_for
from .managed_fields import validate_options
from .patch import PatchError, apply_json_patch, merge_patch, strategic_merge_patch
from .resources import Registry, ResourceType
from .status import (
    StatusError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    quote,
    unsupported_media_type,
)
from .storage import Record, Store, encode, now_rfc3339
from .strategy import strategy_of

if TYPE_CHECKING:  # the handlers import this module
    from .handlers import Target

__all__ = ["Writes"]

Obj = dict[str, Any]
_FIELD_VALIDATION = ("Ignore", "Strict", "Warn")
_PROPAGATION = (FOREGROUND, BACKGROUND, ORPHAN)
_UPDATE_RETRIES = 5
_REASONS = {400: "BadRequest", 409: "Conflict", 413: "RequestEntityTooLarge", 422: "Invalid"}
# Resources a PUT creates when missing (kube's ``AllowCreateOnUpdate``).
_CREATE_ON_UPDATE = frozenset(
    {
        ("", "events"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    }
)


def parse_dry_run(query: MultiMapping[str]) -> bool:
    values = query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise bad_request(
                f'dryRun: Unsupported value: []string{{"{value}"}}: supported values: "All"'
            )
    return bool(values)


def parse_field_validation(query: MultiMapping[str]) -> str:
    value = query.get("fieldValidation", "") or "Warn"
    if value not in _FIELD_VALIDATION:
        raise bad_request(
            f'fieldValidation: Unsupported value: "{value}": supported values: '
            '"Ignore", "Strict", "Warn"'
        )
    return value


def _success(rt: ResourceType | None = None, record: Record | None = None, code: int = 0) -> Obj:
    status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if code:
        status["code"] = code
    if rt is not None and record is not None:
        details: Obj = {"name": record.name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.resource
        uid = (record.obj.get("metadata") or {}).get("uid")
        if uid:
            details["uid"] = uid
        status["details"] = details
    return status


def _patch_failure(err: PatchError) -> StatusError:
    if err.code == 422 and not err.causes:
        return StatusError(422, "Invalid", err.message, {})
    if err.code == 422:
        return StatusError(
            422,
            "Invalid",
            err.message,
            {"causes": [{"reason": "FieldValueInvalid", "message": err.message}]},
        )
    return StatusError(err.code, _REASONS.get(err.code, "BadRequest"), err.message)


_DISRUPTION_TARGET = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "EvictionByEvictionAPI",
    "message": "Eviction API: evicting",
}


def _set_condition(status: Obj, condition: Obj) -> bool:
    """kube's ``UpdatePodCondition``: add or update a condition by type (the transition time
    changes only with the status); False when nothing changed."""
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        conditions = status["conditions"] = []
    now = now_rfc3339()
    for i, old in enumerate(conditions):
        if isinstance(old, dict) and old.get("type") == condition["type"]:
            if all(old.get(k) == v for k, v in condition.items()):
                return False
            moved = old.get("status") != condition["status"]
            transition = now if moved else old.get("lastTransitionTime", now)
            conditions[i] = {
                **condition,
                "lastProbeTime": None,
                "lastTransitionTime": transition,
            }
            return True
    conditions.append({**condition, "lastProbeTime": None, "lastTransitionTime": now})
    return True


def _grace_period(value: str | None) -> int | None:
    """``?gracePeriodSeconds=``, parsed as Go's ``strconv.ParseInt`` (its error words)."""
    if value is None:
        return None
    if re.fullmatch(r"[+-]?[0-9]+", value) is None:
        raise bad_request(f"strconv.ParseInt: parsing {quote(value)}: invalid syntax")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise bad_request(f"strconv.ParseInt: parsing {quote(value)}: value out of range")
    return number


@dataclass(frozen=True)
class DeleteOptions:
    dry_run: bool
    propagation: str
    uid: str | None
    rv: str | None
    grace: int | None = None


class Writes:
    """The mutating half of the REST layer."""

    def __init__(
        self, store: Store, extensions: Extensions, registry: Registry | None = None
    ) -> None:
        self.store = store
        self.ext = extensions
        self.lifecycle = Lifecycle(store, registry)

    # ------------------------------------------------------------------ decoding helpers

    @staticmethod
    def check_type_meta(kind: str, api_versions: tuple[str, ...], body: Obj) -> None:
        """Fill a missing apiVersion/kind from the endpoint (as kube's decoder defaults
        them); 400 when the body names another one."""
        api_version = body.get("apiVersion")
        if api_version in (None, ""):
            body["apiVersion"] = api_versions[0]
        elif api_version not in api_versions:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({api_versions[0]})"
            )
        given = body.get("kind")
        if given in (None, ""):
            body["kind"] = kind
        elif given != kind:
            version = str(body["apiVersion"]).rpartition("/")[2]
            raise bad_request(
                f'{kind} in version "{version}" cannot be handled as a {kind}: the kind in the '
                f"data ({given}) does not match the expected kind ({kind})"
            )
        # kube writes kind and apiVersion first; keep stored JSON in that familiar order.
        rest = {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}
        type_meta = {"kind": body["kind"], "apiVersion": body["apiVersion"]}
        body.clear()
        body.update(type_meta)
        body.update(rest)

    @staticmethod
    def decode_typed(kind: str, api_version: str, body: Obj, mode: str) -> list[str]:
        """Type-check and prune ``body``; the warnings to send (Warn) or 400 (Strict)."""
        try:
            unknown = schema.check(api_version, kind, body)
        except schema.SchemaError as exc:
            version = api_version.rpartition("/")[2]
            raise bad_request(
                f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
            ) from None
        if not unknown or mode == "Ignore":
            return []
        messages = [f"unknown field {quote(path)}" for path in unknown]
        if mode == "Strict":
            raise bad_request("strict decoding error: " + ", ".join(messages))
        return messages

    async def _body(self, request: web.Request) -> Obj:
        data = await read_body(request)
        return await decode_object_async(data, request.headers.get("Content-Type"))

    def _decode_resource(self, rt: ResourceType, body: Obj, mode: str) -> list[str]:
        if (strategy := strategy_of(rt)) is not None:
            return strategy.decode(rt, body, mode)
        self.check_type_meta(rt.kind, (rt.api_version,), body)
        warnings = self.decode_typed(rt.kind, rt.api_version, body, mode)
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}
        return warnings

    @staticmethod
    def _place(rt: ResourceType, namespace: str, body: Obj) -> None:
        meta = body["metadata"]
        if rt.namespaced:
            given = meta.get("namespace") or ""
            if given and given != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    @staticmethod
    def _same_name(body: Obj, name: str) -> None:
        given = body["metadata"].get("name") or ""
        if given != name:
            raise bad_request(
                f"the name of the object ({given}) does not match the name on the URL ({name})"
            )

    def _namespace_ready(self, rt: ResourceType, namespace: str, name: str) -> None:
        record = self.store.get("", "namespaces", "", namespace)
        if record is None:
            raise not_found("namespaces", namespace)
        if (record.obj.get("metadata") or {}).get("deletionTimestamp"):
            details: Obj = {"name": name, "kind": rt.resource}
            if rt.group:
                details["group"] = rt.group
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            qualified = f"{rt.resource}.{rt.group}" if rt.group else rt.resource
            raise StatusError(
                403,
                "Forbidden",
                f"{qualified} {quote(name)} is forbidden: unable to create new content in "
                f"namespace {namespace} because it is being terminated",
                details,
            )

    async def _admit(
        self,
        request: web.Request,
        ctx: RequestContext,
        operation: str,
        rt: ResourceType,
        sub: str,
        namespace: str,
        name: str,
        obj: Obj | None,
        old: Obj | None,
        dry_run: bool,
    ) -> None:
        if not self.ext.admission:
            return
        review = Admission(request, ctx, operation, rt, sub, namespace, name, obj, old, dry_run)
        for hook in self.ext.admission:
            await hook(review)

    def _authorize_create(
        self, request: web.Request, ctx: RequestContext, rt: ResourceType, namespace: str, name: str
    ) -> None:
        """A PATCH (apply) or PUT that creates needs ``create`` too (kube's create-on-update
        authorization, after validation), for the effective user."""
        authorize = self.ext.authorize
        if authorize is None:
            return
        attrs = Attributes(
            user=ctx.attributes().user,
            verb="create",
            resource_request=True,
            api_group=rt.group,
            api_version=rt.version,
            resource=rt.resource,
            namespace=namespace,
            name=name,
            path=request.path,
        )
        decision, reason = authorize(attrs)
        if decision is not Decision.ALLOW:
            raise forbidden(attrs, reason)

    def _get(self, rt: ResourceType, namespace: str, name: str) -> Record:
        record = self.store.get(rt.group, rt.resource, namespace, name)
        if record is None:
            raise not_found(rt.resource, name, rt.group)
        if (strategy := strategy_of(rt)) is not None:
            return strategy.present(rt, record)  # as the requested version serves it
        return record

    # ------------------------------------------------------------------ create

    async def create(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        opts = validate_options("CreateOptions", request.query)
        dry_run, mode = opts.dry_run, opts.field_validation
        body = await self._body(request)
        return await self._create(request, ctx, target.rt, target.namespace, body, dry_run, mode)

    async def _create(
        self,
        request: web.Request,
        ctx: RequestContext,
        rt: ResourceType,
        namespace: str,
        body: Obj,
        dry_run: bool,
        mode: str,
        expected_name: str | None = None,
    ) -> web.StreamResponse:
        warnings = self._decode_resource(rt, body, mode)
        self._place(rt, namespace, body)
        meta = body["metadata"]
        if expected_name is not None:
            self._same_name(body, expected_name)
        prefix = meta.get("generateName") if not meta.get("name") else None
        sent = managed_fields.detach(body)
        objects.prepare_create(rt, body, self.store)
        managed_fields.record(request, rt, "", None, body, sent)
        name = str(meta.get("name") or "")
        if rt.namespaced:
            self._namespace_ready(rt, namespace, name)
        # Admission sees the object before its name is generated, as in kube.
        await self._admit(request, ctx, "CREATE", rt, "", namespace, name, body, None, dry_run)
        if prefix:
            meta["name"] = name = objects.generate_name(str(prefix))
        causes = objects.validate(rt, body)
        if causes:
            raise invalid(rt.kind, name, rt.group, causes)
        if expected_name is not None:
            self._authorize_create(request, ctx, rt, namespace, expected_name)
        if dry_run:
            if self.store.get(rt.group, rt.resource, namespace, name) is not None:
                raise already_exists(rt.resource, name, rt.group)
            meta.setdefault("uid", str(uuid.uuid4()))
            return json_response(body, 201, warnings=warnings)
        for attempt in range(3):
            try:
                record = self.store.create(rt.group, rt.resource, body)
                break
            except StatusError as err:
                if not (prefix and err.reason == "AlreadyExists" and attempt < 2):
                    raise
                meta["name"] = objects.generate_name(str(prefix))
        return raw_response(record.raw, 201, warnings=warnings)

    # ------------------------------------------------------------------ update and patch

    async def _replace(
        self,
        request: web.Request,
        ctx: RequestContext,
        target: Target,
        compute: Callable[[Record], Obj],
        client_rv: int | None,
        dry_run: bool,
        warnings: list[str],
    ) -> web.StreamResponse:
        """Write ``compute(current)`` over the current object, retrying (like kube's
        GuaranteedUpdate) if it changed while admission ran; 409 if the client's
        resourceVersion is stale."""
        rt, sub = target.rt, target.subresource
        for _ in range(_UPDATE_RETRIES):
            old = self._get(rt, target.namespace, target.name)
            if client_rv is not None and client_rv != old.rv:
                raise conflict(rt.resource, target.name, rt.group)
            obj = compute(old)
            sent = managed_fields.detach(obj)
            if sub == "status":
                obj = objects.prepare_status_update(rt, obj, old.obj)
            else:
                objects.prepare_update(rt, obj, old.obj, sub)
            managed_fields.record(request, rt, sub, old.obj, obj, sent)
            await self._admit(
                request,
                ctx,
                "UPDATE",
                rt,
                sub,
                target.namespace,
                target.name,
                obj,
                old.obj,
                dry_run,
            )
            causes = objects.validate(rt, obj, old.obj, sub)
            if causes:
                raise invalid(rt.kind, target.name, rt.group, causes)
            if dry_run:
                obj["metadata"]["resourceVersion"] = str(old.rv)
                return json_response(obj, warnings=warnings)
            latest = self.store.get(rt.group, rt.resource, target.namespace, target.name)
            if latest is None:
                raise not_found(rt.resource, target.name, rt.group)
            if latest.rv != old.rv:
                continue
            record = self.store.update(rt.group, rt.resource, obj, expect_rv=old.rv)
            self.lifecycle.finalize_if_done(rt, record)
            return raw_response(record.raw, warnings=warnings)
        raise conflict(rt.resource, target.name, rt.group)

    async def update(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt = target.rt
        opts = validate_options("UpdateOptions", request.query)
        dry_run, mode = opts.dry_run, opts.field_validation
        body = await self._body(request)
        warnings = self._decode_resource(rt, body, mode)
        self._same_name(body, target.name)
        self._place(rt, target.namespace, body)
        if (
            (rt.group, rt.resource) in _CREATE_ON_UPDATE
            and not target.subresource
            and self.store.get(rt.group, rt.resource, target.namespace, target.name) is None
        ):
            return await self._create(
                request, ctx, rt, target.namespace, body, dry_run, mode, target.name
            )
        raw_rv = body["metadata"].get("resourceVersion") or ""
        client_rv = parse_resource_version(str(raw_rv)) if raw_rv else None
        return await self._replace(
            request, ctx, target, lambda _old: copy.deepcopy(body), client_rv, dry_run, warnings
        )

    async def patch(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt = target.rt
        content_type = media_type(request.headers.get("Content-Type"))
        ptype = PATCH_TYPES.get(content_type)
        builtin = schema.known_kind(rt.api_version, rt.kind)
        if ptype is None or (ptype == "strategic" and not builtin):
            allowed = [t for t, p in PATCH_TYPES.items() if builtin or p != "strategic"]
            raise unsupported_media_type(content_type, allowed)
        opts = validate_options("PatchOptions", request.query, ptype)
        dry_run, mode = opts.dry_run, opts.field_validation
        data = await read_body(request)
        doc: Any = await off_loop(
            decode_yaml if ptype == "apply" else lambda raw: decode_json(raw, prefix=""), data
        )
        tracker = managed_fields.tracker(request, rt, target.subresource)
        if ptype == "apply":
            if not isinstance(doc, dict):
                raise not_an_object(doc)
            if (
                self.store.get(rt.group, rt.resource, target.namespace, target.name) is None
                and not target.subresource
            ):
                body = tracker.apply(None, doc, opts.field_manager, opts.force)
                if not (body.get("metadata") or {}).get("name"):
                    raise bad_request(
                        f"the name of the object ({target.name} based on URL) was "
                        "undeterminable: name must be provided"
                    )
                return await self._create(
                    request, ctx, rt, target.namespace, body, dry_run, mode, target.name
                )
        warnings: list[str] = []

        def compute(old: Record) -> Obj:
            current = copy.deepcopy(old.obj)
            try:
                if ptype == "merge":
                    patched = merge_patch(current, doc)
                elif ptype == "json":
                    patched = apply_json_patch(current, doc)
                elif ptype == "apply":
                    patched = tracker.apply(current, doc, opts.field_manager, opts.force)
                else:
                    patched = strategic_merge_patch(
                        current, doc, schema.model(rt.api_version, rt.kind)
                    )
            except PatchError as err:
                raise _patch_failure(err) from None
            except RecursionError:
                raise bad_request("the patch is nested too deeply") from None
            if not isinstance(patched, dict):
                raise bad_request("the patched object is not a JSON object")
            self.check_type_meta(rt.kind, (rt.api_version,), patched)
            if patched.get("kind") != rt.kind or patched.get("apiVersion") != rt.api_version:
                raise bad_request("the patch may not change apiVersion or kind")
            if (strategy := strategy_of(rt)) is not None:
                warnings[:] = strategy.decode(rt, patched, mode, patch=True)
            else:
                warnings[:] = self.decode_typed(rt.kind, rt.api_version, patched, mode)
            if not isinstance(patched.get("metadata"), dict):
                patched["metadata"] = {}
            self._same_name(patched, target.name)
            self._place(rt, target.namespace, patched)
            raw_rv = patched["metadata"].get("resourceVersion") or ""
            if raw_rv and raw_rv != str(old.rv):
                parse_resource_version(str(raw_rv))
                raise conflict(rt.resource, target.name, rt.group)
            return patched

        return await self._replace(request, ctx, target, compute, None, dry_run, warnings)

    # ------------------------------------------------------------------ delete

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        query = request.query
        dry_run = parse_dry_run(query)
        propagation = query.get("propagationPolicy") or ""
        orphan = query.get("orphanDependents")
        uid: str | None = None
        rv: str | None = None
        grace = _grace_period(query.get("gracePeriodSeconds"))
        data = await read_body(request)
        if data.strip():
            body = await decode_object_async(data, request.headers.get("Content-Type"))
            kind = body.get("kind")
            if kind not in (None, "", "DeleteOptions"):
                raise bad_request(f"expected DeleteOptions, got {kind}")
            try:
                schema.check("v1", "DeleteOptions", body)
            except schema.SchemaError as exc:
                raise bad_request(str(exc)) from None
            propagation = body.get("propagationPolicy") or propagation
            if body.get("orphanDependents") is not None:
                orphan = "true" if body["orphanDependents"] else "false"
            if body.get("dryRun"):
                for value in body["dryRun"]:
                    if value != "All":
                        raise bad_request(
                            f'dryRun: Unsupported value: []string{{"{value}"}}: supported '
                            'values: "All"'
                        )
                dry_run = True
            pre = body.get("preconditions") or {}
            uid = pre.get("uid")
            rv = pre.get("resourceVersion")
            if body.get("gracePeriodSeconds") is not None:
                grace = int(body["gracePeriodSeconds"])
        causes: list[tuple[str, str, str]] = []
        if propagation and propagation not in _PROPAGATION:
            causes.append(
                (
                    "propagationPolicy",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{propagation}": supported values: "Foreground", '
                    '"Background", "Orphan", "nil"',
                )
            )
        if propagation and orphan is not None:
            causes.append(
                (
                    "propagationPolicy",
                    "FieldValueInvalid",
                    f'Invalid value: "{propagation}": orphanDependents and deletionPropagation '
                    "cannot be both set",
                )
            )
        if causes:
            raise invalid("DeleteOptions", "", "meta.k8s.io", causes)
        if not propagation:
            propagation = ORPHAN if orphan == "true" else BACKGROUND
        return DeleteOptions(dry_run, propagation, uid, rv, grace)

    async def delete(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt = target.rt
        opts = await self._delete_options(request)
        current = self._get(rt, target.namespace, target.name)
        # kube checks the preconditions (rest.BeforeDelete) before admission runs.
        graceful.check_preconditions(rt, current.obj, opts.uid, opts.rv)
        await self._admit(
            request,
            ctx,
            "DELETE",
            rt,
            "",
            target.namespace,
            target.name,
            None,
            current.obj,
            opts.dry_run,
        )
        strategy = strategy_of(rt)
        marked = strategy.delete(rt, current.obj) if strategy is not None else None
        if marked is not None:  # a finalizing deletion (CRDs): stored, not removed
            self.lifecycle.check_preconditions(rt, current, opts.uid, opts.rv)
            if opts.dry_run:
                return json_response(marked)
            stored = self.store.update(rt.group, rt.resource, marked, expect_rv=current.rv)
            return raw_response(stored.raw)
        record, removed = graceful.delete(
            self.store,
            self.lifecycle,
            rt,
            current,
            grace=opts.grace,
            uid=opts.uid,
            rv=opts.rv,
            propagation=opts.propagation,
            dry_run=opts.dry_run,
        )
        if removed and not objects.returns_deleted_object(rt):
            return json_response(_success(rt, record))
        return raw_response(record.raw)

    async def delete_collection(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt = target.rt
        list_opts = parse_list_options(rt, request.query, watch=False)
        opts = await self._delete_options(request)
        predicate = predicate_for(list_opts.fields, list_opts.labels)
        records, _ = self.store.list(rt.group, rt.resource, target.namespace or None)
        if predicate is not None:
            records = [r for r in records if predicate(r.obj)]
        for record in records:
            await self._admit(
                request,
                ctx,
                "DELETE",
                rt,
                "",
                record.namespace,
                record.name,
                None,
                record.obj,
                opts.dry_run,
            )
        deleted: list[Record] = []
        with self.store.transaction():
            for record in records:
                latest = self.store.get(rt.group, rt.resource, record.namespace, record.name)
                if latest is None:
                    continue  # removed by a cascade earlier in this loop
                gone, _ = graceful.delete(
                    self.store,
                    self.lifecycle,
                    rt,
                    latest,
                    grace=opts.grace,
                    uid=opts.uid,
                    rv=opts.rv,
                    propagation=opts.propagation,
                    dry_run=opts.dry_run,
                )
                deleted.append(gone)
        head = encode(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.revision())},
            }
        )
        from .handlers import list_item

        items = b",".join(list_item(rt, r) for r in deleted)
        body = head[:-1] + b',"items":[' + items + b"]}"
        return raw_response(body)

    # ------------------------------------------------------------------ subresources

    async def finalize(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        """``PUT namespaces/<n>/finalize``: replace spec.finalizers (the namespace controller's
        and other finalizing controllers' way out of Terminating)."""
        rt = target.rt
        dry_run = parse_dry_run(request.query)
        body = await self._body(request)
        self._decode_resource(rt, body, "Ignore")
        self._same_name(body, target.name)
        old = self._get(rt, "", target.name)
        obj = copy.deepcopy(old.obj)
        finalizers = (body.get("spec") or {}).get("finalizers") or []
        obj.setdefault("spec", {})["finalizers"] = finalizers
        managed_fields.record(request, rt, "finalize", old.obj, obj, managed_fields.detach(body))
        if dry_run:
            return json_response(obj)
        record = self.store.update(rt.group, rt.resource, obj)
        self.lifecycle.finalize_if_done(rt, record)
        return raw_response(record.raw)

    async def subresource_create(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt, sub = target.rt, target.subresource
        if (rt.group, rt.resource, sub) == ("", "pods", "binding"):
            return await self._bind(request, ctx, target)
        if (rt.group, rt.resource, sub) == ("", "pods", "eviction"):
            return await self._evict(request, ctx, target)
        handler = self.ext.subresources.get((rt.group, rt.resource, sub))
        if handler is None:
            raise StatusError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        dry_run = parse_dry_run(request.query)
        body = await self._body(request)
        if rt.namespaced:
            self._namespace_ready(rt, target.namespace, target.name)  # NamespaceLifecycle
        await self._admit(
            request, ctx, "CREATE", rt, sub, target.namespace, target.name, body, None, dry_run
        )
        result = await handler(request, ctx, target.namespace, target.name, body)
        managed_fields.record_subresource(request, rt, sub, body, result)
        return json_response(result, 201)

    async def _bind(
        self, request: web.Request, ctx: RequestContext, target: Target, body: Obj | None = None
    ) -> web.StreamResponse:
        """``pods/<name>/binding``, or ``bindings`` with the pod's name in ``body``."""
        rt = target.rt
        dry_run = parse_dry_run(request.query)
        body = body if body is not None else await self._body(request)
        self.check_type_meta("Binding", ("v1",), body)
        self.decode_typed("Binding", "v1", body, parse_field_validation(request.query))
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        if meta.get("name") and meta["name"] != target.name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({target.name})"
            )
        node = (body.get("target") or {}).get("name") or ""
        if not node:
            raise invalid(
                "Binding",
                target.name,
                "",
                [("target.name", "FieldValueRequired", "Required value")],
            )
        self._namespace_ready(rt, target.namespace, target.name)  # NamespaceLifecycle
        pod = self._get(rt, target.namespace, target.name)
        pod_meta = pod.obj.get("metadata") or {}
        if pod_meta.get("deletionTimestamp"):
            raise conflict(
                "pods/binding",
                target.name,
                "",
                f"pod {target.name} is being deleted, cannot be assigned to a host",
            )
        assigned = (pod.obj.get("spec") or {}).get("nodeName")
        if assigned:
            raise conflict(
                "pods/binding",
                target.name,
                "",
                f"pod {target.name} is already assigned to node {quote(assigned)}",
            )
        await self._admit(
            request,
            ctx,
            "CREATE",
            rt,
            "binding",
            target.namespace,
            target.name,
            body,
            pod.obj,
            dry_run,
        )
        if not dry_run:
            obj = copy.deepcopy(pod.obj)
            obj.setdefault("spec", {})["nodeName"] = node
            # The binding's annotations and labels (PodTopologyLabels') go onto the pod.
            pod_meta = obj.setdefault("metadata", {})
            admitted = body.get("metadata")
            for field in ("annotations", "labels"):
                values = admitted.get(field) if isinstance(admitted, dict) else None
                if isinstance(values, dict) and values:
                    pod_meta[field] = {**(pod_meta.get(field) or {}), **values}
            status = obj.setdefault("status", {})
            conditions = [
                c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
            ]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}
            )
            status["conditions"] = conditions
            self.store.update(rt.group, rt.resource, obj, expect_rv=pod.rv)
        return json_response(_success(code=201), 201)

    async def _evict(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        """kube's EvictionREST without PodDisruptionBudgets (none are served): admission
        (NamespaceLifecycle, NodeRestriction), the name check, then the pod gets the
        DisruptionTarget condition and is deleted as a DELETE would (gracefully)."""
        rt = target.rt
        body = await self._body(request)
        self.check_type_meta("Eviction", ("policy/v1", "policy/v1beta1"), body)
        options = body.get("deleteOptions") or {}
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        dry_run = parse_dry_run(request.query) or bool(options.get("dryRun"))
        pre = options.get("preconditions") or {}
        self._namespace_ready(rt, target.namespace, target.name)
        pod = self.store.get(rt.group, rt.resource, target.namespace, target.name)
        await self._admit(
            request,
            ctx,
            "CREATE",
            rt,
            "eviction",
            target.namespace,
            target.name,
            body,
            pod.obj if pod is not None else None,
            dry_run,
        )
        if (meta.get("name") or "") != target.name:
            raise bad_request("name in URL does not match name in Eviction object")
        pod = self._get(rt, target.namespace, target.name)
        uid, rv = pre.get("uid"), pre.get("resourceVersion")
        graceful.check_preconditions(rt, pod.obj, uid or None, rv or None)
        if not dry_run:
            evicting = copy.deepcopy(pod.obj)
            status = evicting.setdefault("status", {})
            if _set_condition(status, _DISRUPTION_TARGET):
                pod = self.store.update(rt.group, rt.resource, evicting, expect_rv=pod.rv)
        grace = options.get("gracePeriodSeconds")
        graceful.delete(
            self.store,
            self.lifecycle,
            rt,
            pod,
            grace=grace if isinstance(grace, int) else None,
            propagation=options.get("propagationPolicy") or BACKGROUND,
            dry_run=dry_run,
        )
        return json_response(_success(code=201), 201)

    # ------------------------------------------------------------------ reviews

    async def review(
        self, request: web.Request, ctx: RequestContext, target: Target
    ) -> web.StreamResponse:
        rt = target.rt
        handler = self.ext.reviews.get((rt.group, rt.resource))
        if handler is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        mode = parse_field_validation(request.query)
        body = await self._body(request)
        self.check_type_meta(rt.kind, (rt.api_version,), body)
        warnings = self.decode_typed(rt.kind, rt.api_version, body, mode)
        managed = managed_fields.record_review(request, rt, body)
        result = await handler(request, ctx, body)
        if managed:
            result.setdefault("metadata", {})["managedFields"] = managed
        result.setdefault("kind", rt.kind)
        result.setdefault("apiVersion", rt.api_version)
        return json_response(result, 201, warnings=warnings)
