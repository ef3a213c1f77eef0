"""REST handlers for the stored resources: routing by request info, reads, list and watch.

Writes live in ``writes.py``; this module resolves which resource, object and verb a request
is about (from the :class:`~..resolver.RequestInfo` the first middleware stored) and serves
get, list and watch with kube's semantics (see ``listing.py`` and ``watch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import corev1, kubelet, resources, scale
from .bodies import Output, json_response, negotiate, raw_response
from .context import RequestContext, get_context
from .hooks import Extensions
from .listing import (
    ListOptions,
    Page,
    continue_expired,
    encode_continue,
    minimum_version,
    parse_list_options,
    predicate_for,
    snapshot_version,
)
from .resources import Registry, ResourceType
from .status import StatusError, not_found
from .status import page_not_found as _page_not_found
from .storage import Record, Store, encode
from .storage.base import too_large_resource_version
from .strategy import strategy_of
from .tables import partial_list, partial_object, table
from .watch import WatchParams, default_timeout, serve_watch
from .writes import Writes

__all__ = ["RestHandler", "RestSettings", "Target", "method_not_allowed", "page_not_found"]


@dataclass(frozen=True)
class RestSettings:
    """Tunables of the REST layer (tests shorten them)."""

    # Interval of BOOKMARK events on watches that allow them (kube: about a minute).
    bookmark_interval: float = 5.0
    # kube's --min-request-timeout: watches without timeoutSeconds end after 1-2x this.
    min_request_timeout: float = 1800.0
    # A watch client that does not take a write within this long is disconnected.
    write_timeout: float = 30.0


def list_item(rt: ResourceType, record: Record) -> bytes:
    """A list item as kube encodes it: a built-in kind's items carry no ``apiVersion``/``kind``
    (the list does); a custom resource's keep theirs."""
    if not rt.builtin:
        return record.raw
    kind, version = rt.kind.encode(), rt.api_version.encode()
    for prefix in (
        b'{"kind":"' + kind + b'","apiVersion":"' + version + b'",',
        b'{"apiVersion":"' + version + b'","kind":"' + kind + b'",',
    ):
        if record.raw.startswith(prefix):
            return b"{" + record.raw[len(prefix) :]
    return encode({k: v for k, v in record.obj.items() if k not in ("apiVersion", "kind")})


def page_not_found() -> StatusError:
    return _page_not_found()


def method_not_allowed() -> StatusError:
    return StatusError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


@dataclass(frozen=True)
class Target:
    """What a resource request addresses."""

    rt: ResourceType
    namespace: str  # "" for cluster-scoped resources and all-namespace collections
    name: str
    subresource: str
    scoped: bool  # the path named a namespace


def resolve_target(ctx: RequestContext, registry: Registry = resources.DEFAULT) -> Target:
    info = ctx.info
    rt = registry.lookup(info.api_group, info.api_version, info.resource)
    parts = info.parts
    proxied = len(parts) > 3 and parts[2] == "proxy"  # pods/<n>/proxy/<path>
    if rt is None or not info.resource or not parts or (len(parts) > 3 and not proxied):
        raise page_not_found()
    name = parts[1] if len(parts) >= 2 else ""
    sub = parts[2] if len(parts) >= 3 else ""
    namespaces_itself = (
        rt.group == ""
        and rt.resource == "namespaces"
        and len(parts) >= 2
        and name == info.namespace
    )
    scoped = bool(info.namespace) and not namespaces_itself
    if not rt.namespaced and scoped:
        raise page_not_found()
    if rt.namespaced and not scoped and name:
        raise page_not_found()
    if sub and sub not in rt.subresources:
        if strategy_of(rt) is not None:  # custom resources: the object is "not found"
            raise not_found(rt.resource, name, rt.group)
        raise page_not_found()
    return Target(rt, info.namespace if scoped else "", name, sub, scoped)


class RestHandler:
    """Serves every resource path of its :class:`~.resources.Registry`."""

    def __init__(
        self,
        store: Store,
        extensions: Extensions,
        settings: RestSettings,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.ext = extensions
        self.settings = settings
        self.registry = registry if registry is not None else resources.Registry(resources.TABLE)
        self.writes = Writes(store, extensions, self.registry)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = resolve_target(get_context(request), self.registry)
        if not target.rt.deprecation:
            return await self._handle(request, target)
        warning = f'299 - "{target.rt.deprecation}"'  # kube warns on every request
        try:
            response = await self._handle(request, target)
        except StatusError as err:
            err.headers.setdefault("Warning", warning)
            raise
        if not response.prepared:
            response.headers.add("Warning", warning)
        return response

    async def _handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        ctx = get_context(request)
        rt = target.rt
        method = request.method.upper()
        verb = ctx.info.verb
        if target.subresource and (rt.group, rt.resource, target.subresource) in (
            self.ext.connectors
        ):
            return await self._subresource(request, ctx, target, method)
        if method not in ("GET", "HEAD"):
            negotiate(request.headers.get("Accept"))  # 406 before doing anything
        if target.subresource:
            return await self._subresource(request, ctx, target, method)
        if corev1.serves(rt.group, rt.resource) and not target.subresource:
            return await corev1.serve(request, ctx, target, self.writes)
        if not rt.stored:
            if method == "POST" and not target.name and (target.scoped or not rt.namespaced):
                return await self.writes.review(request, ctx, target)
            raise page_not_found() if not rt.verbs else method_not_allowed()
        if method in ("GET", "HEAD"):
            if verb == "watch":
                return await self.do_watch(request, target)
            if target.name:
                return await self.do_get(request, target)
            return await self.do_list(request, target)
        if target.name:
            if method == "PUT":
                return await self.writes.update(request, ctx, target)
            if method == "PATCH":
                return await self.writes.patch(request, ctx, target)
            if method == "DELETE":
                return await self.writes.delete(request, ctx, target)
        else:
            if method == "POST":
                if rt.namespaced and not target.scoped:
                    raise method_not_allowed()
                return await self.writes.create(request, ctx, target)
            if method == "DELETE" and "deletecollection" in rt.verbs:
                if rt.namespaced and not target.scoped:
                    raise method_not_allowed()
                return await self.writes.delete_collection(request, ctx, target)
        raise method_not_allowed()

    async def _subresource(
        self, request: web.Request, ctx: RequestContext, target: Target, method: str
    ) -> web.StreamResponse:
        rt, sub = target.rt, target.subresource
        key = (rt.group, rt.resource, sub)
        connector = self.ext.connectors.get(key)
        if connector is not None:
            return await connector(request, ctx, target.namespace, target.name)
        if sub == "scale" and (strategy := strategy_of(rt)) is not None:
            return await strategy.scale(request, ctx, target, self.writes)
        if sub == "scale":  # the built-in workloads'
            return await scale.serve(request, ctx, target, self.writes)
        if kubelet.serves(rt.group, rt.resource, sub):
            return await kubelet.serve(request, target, self.store)
        if sub in ("status", "ephemeralcontainers", "resize"):  # the object, part of it written
            if method in ("GET", "HEAD"):
                return await self.do_get(request, target)
            if method == "PUT":
                return await self.writes.update(request, ctx, target)
            if method == "PATCH":
                return await self.writes.patch(request, ctx, target)
            from .crd.served import method_not_supported  # loaded once a CRD is served

            raise method_not_supported(rt, method) or method_not_allowed()
        if sub == "finalize" and method == "PUT":
            return await self.writes.finalize(request, ctx, target)
        if method == "POST":
            return await self.writes.subresource_create(request, ctx, target)
        raise method_not_allowed()

    # ------------------------------------------------------------------ reads

    def _get_record(self, target: Target) -> Record:
        rt = target.rt
        record = self.store.get(rt.group, rt.resource, target.namespace, target.name)
        if record is None:
            raise not_found(rt.resource, target.name, rt.group)
        if (strategy := strategy_of(rt)) is not None:
            return strategy.present(rt, record)  # as the requested version serves it
        return record

    async def do_get(self, request: web.Request, target: Target) -> web.StreamResponse:
        output = negotiate(
            request.headers.get("Accept"),
            allow=(Output.JSON, Output.YAML, Output.TABLE, Output.PARTIAL),
        )
        record = self._get_record(target)
        if output == Output.JSON:
            return raw_response(record.raw)
        if output == Output.TABLE:
            include = request.query.get("includeObject", "Metadata")
            return json_response(table(target.rt, [record], "", include))
        if output == Output.PARTIAL:
            return json_response(partial_object(record.obj))
        return json_response(record.obj, output=output)

    async def do_list(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt = target.rt
        output = negotiate(
            request.headers.get("Accept"),
            allow=(Output.JSON, Output.YAML, Output.TABLE, Output.PARTIAL),
        )
        opts = parse_list_options(rt, request.query, watch=False)
        records, rv, next_page, remaining = self.select(target, opts)
        if (strategy := strategy_of(rt)) is not None:
            records = [strategy.present(rt, r) for r in records]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if next_page is not None:
            meta["continue"] = encode_continue(next_page)
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if output == Output.JSON:
            head = encode({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
            items = b",".join(list_item(rt, r) for r in records)
            body = head[:-1] + b',"items":[' + items + b"]}"
            return raw_response(body)
        if output == Output.TABLE:
            include = request.query.get("includeObject", "Metadata")
            doc = table(rt, records, str(rv), include)
            doc["metadata"] = meta
            return json_response(doc)
        if output == Output.PARTIAL:
            return json_response(partial_list(records, meta))
        doc = {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": [
                {k: v for k, v in r.obj.items() if not (rt.builtin and k in ("apiVersion", "kind"))}
                for r in records
            ],
        }
        return json_response(doc, output=output)

    def select(
        self, target: Target, opts: ListOptions
    ) -> tuple[list[Record], int, Page | None, int | None]:
        """The page of objects a list returns: ``(items, rv, next page, remaining count)``."""
        rt = target.rt
        namespace = target.namespace if target.scoped else None
        at = snapshot_version(opts)
        minimum = minimum_version(opts)
        current = self.store.revision()
        if minimum is not None and at is None and minimum > current:
            raise too_large_resource_version(minimum, current)
        try:
            records, rv = self.store.list(rt.group, rt.resource, namespace, at=at)
        except StatusError as err:
            if err.code == 410 and opts.page is not None:
                raise continue_expired() from None
            raise
        predicate = predicate_for(opts.fields, opts.labels)
        if opts.page is not None:
            start = (opts.page.namespace, opts.page.name)
            records = [r for r in records if (r.namespace, r.name) > start]
        if predicate is not None:
            records = [r for r in records if predicate(r.obj)]
        if opts.limit and len(records) > opts.limit:
            page = records[: opts.limit]
            last = page[-1]
            remaining = len(records) - opts.limit if opts.selects_all else None
            return page, rv, Page(rv, last.namespace, last.name), remaining
        return records, rv, None, None

    async def do_watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt = target.rt
        output = negotiate(
            request.headers.get("Accept"), allow=(Output.JSON, Output.TABLE, Output.PARTIAL)
        )
        opts = parse_list_options(rt, request.query, watch=True)
        rv = opts.resource_version
        if opts.send_initial_events is not None:
            initial = opts.send_initial_events
        else:
            initial = rv in ("", "0")
        since = int(rv) if rv and rv != "0" and not initial else None
        if opts.send_initial_events and rv and rv != "0":
            minimum = int(rv)
            if minimum > self.store.revision():
                raise too_large_resource_version(minimum, self.store.revision())
        if opts.send_initial_events is False and not rv:
            since = self.store.revision()
        timeout = (
            float(opts.timeout_seconds)
            if opts.timeout_seconds is not None and opts.timeout_seconds > 0
            else default_timeout(self.settings.min_request_timeout)
        )
        params = WatchParams(
            rt=rt,
            namespace=target.namespace if target.scoped else None,
            since=since,
            initial=initial,
            initial_end_bookmark=bool(opts.send_initial_events),
            bookmarks=opts.bookmarks,
            timeout=timeout,
            predicate=predicate_for(opts.fields, opts.labels, target.name),
            bookmark_interval=self.settings.bookmark_interval,
            write_timeout=self.settings.write_timeout,
        )
        encoder = None
        if output == Output.TABLE:
            include = request.query.get("includeObject", "Metadata")

            def encoder(record: Record) -> bytes:
                return encode(table(rt, [record], str(record.rv), include))

        elif output == Output.PARTIAL:

            def encoder(record: Record) -> bytes:
                return encode(partial_object(record.obj))

        elif (strategy := strategy_of(rt)) is not None:

            def encoder(record: Record) -> bytes:
                return strategy.present(rt, record).raw

        return await serve_watch(request, self.store, params, encoder)
