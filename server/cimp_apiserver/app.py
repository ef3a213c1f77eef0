"""The aiohttp application of the embedded API server: middleware chain, routes, REST layer.

Build it with :func:`build_app`::

    app = build_app(
        store,                                  # a storage.Store (default: a new MemoryStore)
        filters=[authn, audit, impersonation, authz],   # aiohttp middlewares, in this order
        routes=discovery.routes(),              # extra non-resource routes (web.RouteDef)
        reviews={("authorization.k8s.io", "selfsubjectaccessreviews"): sar_handler},
        subresources={("", "serviceaccounts", "token"): token_handler},
        connectors={...},                       # raw subresource handlers (websockets)
        admission=[node_restriction],           # hooks run on every write
        authorize=authorizer.authorize,         # creates through PATCH/PUT need `create`
        settings=RestSettings(bookmark_interval=1.0),
    )

Middleware order (outermost first): the request-info middleware of this module, then
``filters`` in the given order, then the routes. The request-info middleware resolves the
request (:func:`~..resolver.resolve`), stores a :class:`~.context.RequestContext` under
``request[CONTEXT]``, answers every :class:`~.status.StatusError` raised below it (by filters
or handlers) as a kube Status, turns any other exception into a 500 Status without leaking a
traceback, and refuses bodies over 3 MiB (413). Filters set ``ctx.requestor`` and ``ctx.user``;
handlers act as ``ctx.user``.

Hooks (all signatures in ``hooks.py``; every handler may raise ``StatusError``):

* ``reviews[(group, resource)]``: ``async (request, ctx, body: dict) -> dict`` for POST to a
  non-stored resource of ``resources.TABLE`` (TokenReview, SubjectAccessReview, ...). The body
  is already decoded (JSON, YAML or protobuf), its apiVersion/kind checked or defaulted and
  its fields type-checked; the returned object is sent with 201.
* ``subresources[(group, resource, subresource)]``: ``async (request, ctx, namespace, name,
  body: dict) -> dict`` for POST to a subresource (``serviceaccounts/token``); sent with 201.
* ``connectors[(group, resource, subresource)]``: ``async (request, ctx, namespace, name) ->
  web.StreamResponse`` for any method.
* ``admission``: ``async (Admission) -> None`` per write (create, update, patch, delete,
  binding, eviction, subresource create), after defaulting and before validation; may mutate
  ``obj`` or raise.
* ``authorize``: the authorizer a write consults itself: a server-side apply or a PUT that
  creates the object also needs ``create`` (403 otherwise), as kube's create-on-update.
* ``routes``: aiohttp ``RouteDef``s for non-resource paths (``/api``, ``/apis/<g>/<v>``,
  ``/version``, ``/openapi/v2``, ``/healthz``, ``/metrics``...); they are matched before the
  REST layer, which answers everything else. As in kube, a path under a served API (``/api``,
  ``/apis/<served group>``, ``/version``) that nothing answers is a 404 Status; any other
  unserved path is Go's plain-text ``404 page not found``; ``/`` lists the served paths.

The registered hooks live in ``app[EXTENSIONS]`` (mutable until the app starts) and the store
in ``app[STORE]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import cast

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from constrained_impersonation.resolver import resolve, resolves

from .bodies import MAX_BODY
from .context import CONTEXT, RequestContext, get_context
from .handlers import RestHandler, RestSettings, page_not_found
from .hooks import (
    AdmissionHook,
    AuthorizeFn,
    ConnectHandler,
    Extensions,
    ReviewHandler,
    SubresourceHandler,
)
from .resources import REGISTRY, Registry, registry_of
from .status import (
    StatusError,
    internal_error,
    page_not_found_text,
    quote,
    request_entity_too_large,
    sanitize,
    status_response,
)
from .storage import MemoryStore, Store

__all__ = [
    "EXTENSIONS",
    "REST",
    "STORE",
    "Filter",
    "RestSettings",
    "build_app",
    "request_info_middleware",
]

log = logging.getLogger("constrained_impersonation.apiserver")

# A filter of the chain: an aiohttp middleware (``@web.middleware`` optional).
Filter = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

STORE: web.AppKey[Store] = web.AppKey("cimp.store")
EXTENSIONS: web.AppKey[Extensions] = web.AppKey("cimp.extensions")
REST: web.AppKey[RestHandler] = web.AppKey("cimp.rest")


def _reason(status: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        406: "NotAcceptable",
        409: "Conflict",
        413: "RequestEntityTooLarge",
        415: "UnsupportedMediaType",
        429: "TooManyRequests",
    }.get(status, "InternalError" if status >= 500 else "BadRequest")


def _internal_error_text(request: web.Request, err: str) -> web.Response:
    """``responsewriters.InternalError``: plain text, before authentication and audit."""
    text = sanitize(f"Internal Server Error: {quote(request.raw_path)}: {err}") + "\n"
    return web.Response(
        status=500,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@web.middleware
async def request_info_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """First in the chain: request info, the context, and errors answered as kube Statuses."""
    if not resolves(request.path):
        return _internal_error_text(
            request,
            "failed to create RequestInfo: unable to determine kind and namespace from url, "
            f"{request.raw_path}",
        )
    try:
        query = {key: request.query.getall(key) for key in set(request.query.keys())}
        request[CONTEXT] = RequestContext(info=resolve(request.method, request.path, query))
        length = request.content_length
        if length is not None and length > MAX_BODY:
            raise request_entity_too_large(MAX_BODY)
        return await handler(request)
    except StatusError as err:
        response = status_response(err)
        if err.code == 413:
            response.force_close()  # do not keep reading an oversized body for keep-alive
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        return status_response(StatusError(exc.status, _reason(exc.status), message))
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return status_response(
            internal_error("an error on the server has prevented the request from succeeding")
        )


def _under_an_api(path: str, registry: Registry) -> bool:
    """kube hands the path to one of its API web services (go-restful: a 404 there is a
    Status): the core API, ``/version``, ``/apis`` itself, or a served group's root."""
    for root in ("/api", "/version"):
        if path == root or path.startswith(root + "/"):
            return True
    if path in ("/apis", "/apis/"):
        return True
    if not path.startswith("/apis/"):
        return False
    group = path[len("/apis/") :].split("/", 1)[0]
    return any(name == group for name, _ in registry.groups() if name)


@web.middleware
async def _unserved_groups(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Last in the chain (kube authorizes first): ``/apis/<group>/...`` of a group nobody
    serves is not an API path, so plain text answers it, not the discovery or REST routes."""
    path = request.path
    if path.startswith("/apis/") and not _under_an_api(path, registry_of(request.app)):
        return page_not_found_text()
    return await handler(request)


def _index(app: web.Application) -> list[str]:
    """``GET /``: the paths served, as kube's index lists them (no trailing-slash twins
    except the two kube registers as prefixes)."""
    paths = {"/apis/", "/openapi/v3/"}
    for resource in app.router.resources():
        path = resource.get_info().get("path")
        if isinstance(path, str) and not path.endswith("/"):
            paths.add(path)
    for group, versions in registry_of(app).groups():
        if group:
            paths.add(f"/apis/{group}")
            paths.update(f"/apis/{group}/{version}" for version in versions)
    return sorted(p for p in paths if p != "/" and "{" not in p)


def build_app(
    store: Store | None = None,
    *,
    filters: Sequence[Filter] = (),
    routes: Iterable[web.AbstractRouteDef] = (),
    reviews: Mapping[tuple[str, str], ReviewHandler] | None = None,
    subresources: Mapping[tuple[str, str, str], SubresourceHandler] | None = None,
    connectors: Mapping[tuple[str, str, str], ConnectHandler] | None = None,
    admission: Iterable[AdmissionHook] = (),
    authorize: AuthorizeFn | None = None,
    settings: RestSettings | None = None,
    registry: Registry | None = None,
) -> web.Application:
    """The server's aiohttp application (see the module docstring for the hooks)."""
    store = store if store is not None else MemoryStore()
    extensions = Extensions(
        reviews=dict(reviews or {}),
        subresources=dict(subresources or {}),
        connectors=dict(connectors or {}),
        admission=list(admission),
        authorize=authorize,
    )
    rest = RestHandler(store, extensions, settings or RestSettings(), registry)
    app = web.Application(
        middlewares=[
            request_info_middleware,
            *cast(Sequence[Middleware], filters),
            _unserved_groups,
        ],
        client_max_size=MAX_BODY + 1,
    )
    app[STORE] = store
    app[EXTENSIONS] = extensions
    app[REST] = rest
    app[REGISTRY] = rest.registry  # the served resources; custom resources join at run time
    app.router.add_routes(list(routes))

    async def dispatch(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            body = json.dumps({"paths": _index(request.app)}, indent=2).encode()
            return web.Response(body=body, content_type="application/json")
        if not _under_an_api(request.path, rest.registry):
            return page_not_found_text()
        if get_context(request).info.is_resource_request:
            return await rest.handle(request)
        raise page_not_found()

    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def end_watches(_: web.Application) -> None:
        store.close_watchers()

    app.on_shutdown.append(end_watches)
    return app
