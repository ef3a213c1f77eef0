"""API discovery and ``/version``: how clients learn what the embedded server serves.

kubectl resolves every resource name, short name and category through discovery before it
sends a request, so these documents decide whether ``kubectl get po`` works at all. Everything
is derived from the server's :class:`~.resources.Registry`, the same table the REST handlers
serve from (the built-ins as the pinned kube-apiserver lists them, plus custom resources).

Served (all non-resource GETs, authorized with ``nonResourceURLs`` by the filters in front):

* ``/api`` and ``/apis``: the aggregated ``APIGroupDiscoveryList`` (apidiscovery.k8s.io v2 or
  v2beta1) when the ``Accept`` header asks for it, as kubectl 1.33 does first; otherwise the
  legacy ``APIVersions`` / ``APIGroupList``;
* ``/api/v1``, ``/apis/<group>``, ``/apis/<group>/<version>``: ``APIResourceList`` / ``APIGroup``;
* ``/version``: a ``version.Info`` of the kube-apiserver line this server imitates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
import sys
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from typing import Any

from aiohttp import web

from constrained_impersonation._kube_version import KUBE_VERSION

from . import resources
from .resources import Registry, ResourceType, registry_of
from .status import StatusError, not_acceptable, page_not_found, status_response

__all__ = [
    "AGGREGATED_VERSIONS",
    "GIT_VERSION",
    "add_routes",
    "aggregated_discovery",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "negotiate",
    "routes",
    "subresource_info",
    "version_info",
]

KUBE_MAJOR = "1"
KUBE_MINOR = KUBE_VERSION.split(".")[1]
GIT_VERSION = KUBE_VERSION
DISCOVERY_GROUP = "apidiscovery.k8s.io"
AGGREGATED_VERSIONS = ("v2", "v2beta1")
_JSON = "application/json"
_LEGACY = "legacy"


def subresource_info(rt: ResourceType, name: str) -> tuple[tuple[str, str, str], tuple[str, ...]]:
    """``((group, version, kind), verbs)`` of subresource ``name`` of ``rt``."""
    sub = rt.subresource(name)
    return sub.kind or (rt.group, rt.version, rt.kind), sub.verbs


def _storage_version_hash(rt: ResourceType) -> str:
    """kube-apiserver's hint that a resource's storage version changed (stable per GVK)."""
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


# --- legacy documents -------------------------------------------------------------------------


def api_versions(server_address: str) -> dict[str, Any]:
    """``GET /api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry = resources.DEFAULT) -> dict[str, Any]:
    """``GET /apis``: every named group, preferred version first."""
    groups = [_group_doc(g, versions) for g, versions in registry.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str, registry: Registry = resources.DEFAULT) -> dict[str, Any] | None:
    """``GET /apis/<group>``, or None when the group is not served."""
    for name, versions in registry.groups():
        if name == group and group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}
    return None


def _legacy_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.resource,
        "singularName": rt.singular_name,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.storage_version_hash:
        entry["storageVersionHash"] = rt.storage_version_hash
    elif rt.stored and not rt.builtin:
        entry["storageVersionHash"] = _storage_version_hash(rt)
    return entry


def _legacy_subresource(rt: ResourceType, name: str) -> dict[str, Any]:
    (group, version, kind), verbs = subresource_info(rt, name)
    entry: dict[str, Any] = {
        "name": f"{rt.resource}/{name}",
        "singularName": "",
        "namespaced": rt.namespaced,
    }
    if (group, version) != (rt.group, rt.version):
        entry["group"], entry["version"] = group, version
    entry["kind"] = kind
    entry["verbs"] = list(verbs)
    return entry


def api_resource_list(
    group: str, version: str, registry: Registry = resources.DEFAULT
) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>``, or None when not served."""
    served = registry.in_group(group, version)
    if not served:
        return None
    listed: list[dict[str, Any]] = []
    for rt in served:
        if rt.verbs:
            listed.append(_legacy_resource(rt))
        listed.extend(_legacy_subresource(rt, sub) for sub in rt.subresources)
    document: dict[str, Any] = {"kind": "APIResourceList"}
    if group:  # kube's /api/v1 carries no apiVersion, every /apis/<g>/<v> does
        document["apiVersion"] = "v1"
    document["groupVersion"] = _group_version(group, version)
    document["resources"] = listed
    return document


# --- aggregated discovery ---------------------------------------------------------------------


def _kind_ref(rt: ResourceType, group: str, version: str, kind: str) -> dict[str, str]:
    """A ``responseKind``: kube leaves group and version empty when they are the resource's
    (not for custom resources, whose discovery apiextensions writes)."""
    if (group, version) == (rt.group, rt.version) and rt.builtin:
        group = version = ""
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": rt.resource}
    # A parent that only carries subresources (an aggregated API's, KubeVirt's console) has
    # an empty kind and no verbs, as kube-aggregator converts a legacy resource list.
    no_kind = {"group": "", "version": "", "kind": ""}
    entry["responseKind"] = _kind_ref(rt, rt.group, rt.version, rt.kind) if rt.verbs else no_kind
    entry["scope"] = "Namespaced" if rt.namespaced else "Cluster"
    entry["singularResource"] = rt.singular_name
    entry["verbs"] = list(rt.verbs) or None
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for name in rt.subresources:
        kind, verbs = subresource_info(rt, name)
        subs.append(
            {
                "subresource": name,
                "responseKind": _kind_ref(rt, *kind),
                "verbs": list(verbs) or None,
            }
        )
    if subs:
        entry["subresources"] = subs
    return entry


def _aggregated_group(group: str, versions: Iterable[str], registry: Registry) -> dict[str, Any]:
    return {
        "metadata": {"name": group} if group else {},
        "versions": [
            {
                "version": version,
                "resources": [_aggregated_resource(rt) for rt in registry.in_group(group, version)],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def aggregated_discovery(
    core: bool, version: str = "v2", registry: Registry = resources.DEFAULT
) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``) or ``/apis``."""
    items = [_aggregated_group(g, vs, registry) for g, vs in registry.groups() if (g == "") == core]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }


# --- /version ---------------------------------------------------------------------------------


def version_info() -> dict[str, str]:
    """``GET /version``: kube-apiserver's ``version.Info`` for the line this server imitates."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": str(int(KUBE_MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{arch}",
    }


# --- content negotiation ----------------------------------------------------------------------


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """``Accept`` as ``(type, params)`` in preference order (q-values honoured, stable)."""
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for index, clause in enumerate(accept.split(",")):
        media, *raw_params = (part.strip() for part in clause.split(";"))
        if not media:
            continue
        params: dict[str, str] = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranges.append((-quality, index, media.lower(), params))
    ranges.sort(key=lambda r: (r[0], r[1]))
    return [(media, params) for _, _, media, params in ranges]


def negotiate(accept: str | None, aggregated: bool) -> str:
    """``"legacy"`` or an apidiscovery version (``"v2"``...) for an ``Accept`` header.

    Raises a 406 ``StatusError`` when nothing acceptable is JSON.
    """
    if not accept:
        return _LEGACY
    for media, params in _media_ranges(accept):
        if media in ("*/*", "application/*"):
            return _LEGACY
        if media != _JSON:
            continue
        if not params:
            return _LEGACY
        if (
            aggregated
            and params.get("g") == DISCOVERY_GROUP
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in AGGREGATED_VERSIONS
        ):
            return params["v"]
    supported = [_JSON]
    if aggregated:
        supported += [
            f"{_JSON};g={DISCOVERY_GROUP};v={v};as=APIGroupDiscoveryList"
            for v in AGGREGATED_VERSIONS
        ]
    raise not_acceptable(supported)


# --- handlers ---------------------------------------------------------------------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@lru_cache(maxsize=64)  # bounded: /api embeds the client-chosen Host header
def _encoded(document: str) -> tuple[bytes, str]:
    body = document.encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _respond(
    request: web.Request, document: dict[str, Any], content_type: str = _JSON
) -> web.Response:
    body, etag = _encoded(json.dumps(document, separators=(",", ":")))
    headers = {"Content-Type": content_type, "ETag": etag, "Vary": "Accept"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


def _not_found() -> web.Response:
    return status_response(page_not_found())


def _root(core: bool, legacy: Callable[[web.Request], dict[str, Any]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            choice = negotiate(request.headers.get("Accept"), aggregated=True)
        except StatusError as err:
            return status_response(err)
        if choice == _LEGACY:
            return _respond(request, legacy(request))
        content_type = f"{_JSON};g={DISCOVERY_GROUP};v={choice};as=APIGroupDiscoveryList"
        registry = registry_of(request.app)
        document = _aggregated_cached(registry, registry.revision, core, choice)
        return _respond(request, document, content_type)

    return handler


@lru_cache(maxsize=16)
def _aggregated_cached(
    registry: Registry, revision: int, core: bool, version: str
) -> dict[str, Any]:
    return aggregated_discovery(core, version, registry)


def _legacy_only(request: web.Request) -> web.Response | None:
    try:
        negotiate(request.headers.get("Accept"), aggregated=False)
    except StatusError as err:
        return status_response(err)
    return None


handle_api = _root(True, lambda request: api_versions(request.host))
handle_apis = _root(False, lambda request: api_group_list(registry_of(request.app)))


async def handle_core_resources(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1``."""
    refused = _legacy_only(request)
    if refused is not None:
        return refused
    document = api_resource_list("", "v1", registry_of(request.app))
    return _not_found() if document is None else _respond(request, document)


async def handle_group(request: web.Request) -> web.StreamResponse:
    """``GET /apis/<group>``."""
    refused = _legacy_only(request)
    if refused is not None:
        return refused
    document = api_group(request.match_info["group"], registry_of(request.app))
    return _not_found() if document is None else _respond(request, document)


async def handle_group_version(request: web.Request) -> web.StreamResponse:
    """``GET /apis/<group>/<version>``."""
    refused = _legacy_only(request)
    if refused is not None:
        return refused
    group, version = request.match_info["group"], request.match_info["version"]
    document = api_resource_list(group, version, registry_of(request.app)) if group else None
    return _not_found() if document is None else _respond(request, document)


async def handle_version(request: web.Request) -> web.StreamResponse:
    """``GET /version``."""
    return _respond(request, version_info())


def routes() -> list[web.RouteDef]:
    """The discovery routes, for the app builder's non-resource GET hook (HEAD included)."""
    return [
        web.get("/api", handle_api),
        web.get("/api/", handle_api),
        web.get("/api/v1", handle_core_resources),
        web.get("/api/v1/", handle_core_resources),
        web.get("/apis", handle_apis),
        web.get("/apis/", handle_apis),
        web.get("/apis/{group}", handle_group),
        web.get("/apis/{group}/", handle_group),
        web.get("/apis/{group}/{version}", handle_group_version),
        web.get("/apis/{group}/{version}/", handle_group_version),
        web.get("/version", handle_version),
        web.get("/version/", handle_version),
    ]


def add_routes(router: web.UrlDispatcher) -> None:
    """Register :func:`routes` on ``router``."""
    router.add_routes(routes())
