"""API aggregation in the embedded server: ``APIService`` objects that name a service.

kube-apiserver's aggregator hands a request for ``/apis/<group>/<version>/...`` to the
extension server of the ``APIService`` ``<version>.<group>`` once the request went through
authentication, audit, impersonation and authorization, naming the user in the front proxy's
headers. Its availability controller keeps the APIService's ``Available`` condition (service
present, listening on the port, endpoints ready, discovery answering) and the proxy answers
``503 service unavailable`` while it is not.

Here the one extension server that exists is KubeVirt's stand-in (:mod:`.standin`), run
in-process for an APIService whose service is ``kubevirt/virt-api``: it is handed the request
and the user the filters settled on. Its group appears in discovery as kube-aggregator shows
a legacy-discovery extension server. Any other service-backed APIService is checked as kube
checks it and then reported unavailable (``FailedDiscoveryCheck``): nothing here dials out.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..context import get_context
from ..resources import REGISTRY, Registry, ResourceType, Subresource
from ..status import StatusError
from ..storage import Store, now_rfc3339
from .standin import GROUP, VERSION, KubeVirtStandIn

__all__ = ["AGGREGATOR", "Aggregator", "install"]

log = logging.getLogger("constrained_impersonation.apiserver.aggregator")
Obj = dict[str, Any]

_APIREGISTRATION = "apiregistration.k8s.io"
_APISERVICES = "apiservices"
_DISCOVERY_GROUP = "discovery.k8s.io"
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_NO_CACHE = "no-cache, private"
# The service the in-process stand-in answers for, as virt-operator installs it.
VIRT_API = ("kubevirt", "virt-api")


@dataclass(frozen=True)
class _Route:
    """How requests for one aggregated group version are answered."""

    available: bool
    standin: bool


def _stand_in_type() -> ResourceType:
    """The stand-in's discovery as kube-aggregator converts virt-api's legacy list: a parent
    without kind or verbs carrying the ``console`` subresource."""
    return ResourceType(
        GROUP,
        VERSION,
        "virtualmachineinstances",
        "",
        True,
        verbs=(),
        stored=False,
        subresources=("console",),
        subresource_specs=(Subresource("console", (), ("", "", "")),),
    )


def _service_unavailable() -> web.Response:
    """What kube's proxy answers (``http.Error``) while the APIService is not available."""
    return web.Response(
        status=503,
        text="service unavailable\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": _NO_CACHE},
    )


async def _relay(request: web.Request, answer: web.Response) -> web.StreamResponse:
    """Send the extension server's answer as kube's proxy copies it: status, headers and
    bytes as they came (its audit records only the code, never a Status it did not write)."""
    body = answer.body if isinstance(answer.body, bytes) else b""
    relayed = web.StreamResponse(status=answer.status, reason=answer.reason)
    for name, value in answer.headers.items():
        relayed.headers.add(name, value)
    relayed.headers.setdefault("Cache-Control", _NO_CACHE)  # kube's filter sets it first
    relayed.content_length = len(body)
    await relayed.prepare(request)
    if request.method != "HEAD":
        await relayed.write(body)
    await relayed.write_eof()
    return relayed


class Aggregator:
    """Availability of service-backed APIServices, their discovery, and the proxy step."""

    def __init__(self, store: Store, registry: Registry, standin: KubeVirtStandIn) -> None:
        self.store = store
        self.registry = registry
        self.standin = standin
        self._seen: tuple[int, ...] = ()
        self._routes: dict[tuple[str, str], _Route] = {}
        self._listed = False
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ availability

    def _revisions(self) -> tuple[int, ...]:
        return (
            self.store.revision(_APIREGISTRATION, _APISERVICES),
            self.store.revision("", "services"),
            self.store.revision(_DISCOVERY_GROUP, "endpointslices"),
        )

    def sync(self) -> None:
        """Bring conditions, routes and discovery up to date (cheap when nothing changed)."""
        for _ in range(4):  # our own status writes move the revision: settle
            seen = self._revisions()
            if seen == self._seen:
                return
            self._pass()
            self._seen = seen if self._revisions() == seen else ()

    def _pass(self) -> None:
        routes: dict[tuple[str, str], _Route] = {}
        for record in self.store.list(_APIREGISTRATION, _APISERVICES)[0]:
            spec = record.obj.get("spec") or {}
            service = spec.get("service")
            group, version = spec.get("group", ""), spec.get("version", "")
            if not isinstance(service, dict) or not version:
                continue
            target = (str(service.get("namespace", "")), str(service.get("name", "")))
            condition = self._check(group, version, service)
            routes[(group, version)] = _Route(
                condition["status"] == "True", target == VIRT_API and self._serves(group, version)
            )
            self._write_condition(record.obj, record.rv, condition)
        self._routes = routes
        listed = any(r.standin for r in routes.values())
        if listed != self._listed:
            if listed:
                self.registry.add(_stand_in_type())
            elif (
                self.registry.lookup(GROUP, VERSION, "virtualmachineinstances") == _stand_in_type()
            ):
                # Only the stand-in's own entry: never a custom resource registered since.
                self.registry.remove(GROUP, VERSION, "virtualmachineinstances")
            self._listed = listed

    @staticmethod
    def _serves(group: str, version: str) -> bool:
        return (group, version) == (GROUP, VERSION)

    def _check(self, group: str, version: str, ref: dict[str, Any]) -> Obj:
        """kube's remote availability checks, in its order, as an ``Available`` condition."""
        namespace, name = str(ref.get("namespace", "")), str(ref.get("name", ""))
        port = int(ref.get("port") or 443)
        where = f'service/{name} in "{namespace}"'

        def unavailable(reason: str, message: str) -> Obj:
            return {"type": "Available", "status": "False", "reason": reason, "message": message}

        record = self.store.get("", "services", namespace, name)
        if record is None:
            return unavailable("ServiceNotFound", f"{where} is not present")
        svc_spec = record.obj.get("spec") or {}
        in_process = (namespace, name) == VIRT_API
        if svc_spec.get("type", "ClusterIP") == "ClusterIP":
            ports = [p for p in svc_spec.get("ports") or () if isinstance(p, dict)]
            match = next((p for p in ports if p.get("port") == port), None)
            if match is None:
                return unavailable("ServicePortError", f"{where} is not listening on port {port}")
            if not in_process:  # the stand-in needs no endpoints: it runs in this process
                problem = self._endpoints_problem(namespace, name, str(match.get("name") or ""))
                if problem is not None:
                    return unavailable(*problem)
        url = f"https://{name}.{namespace}.svc:{port}/apis/{group}/{version}"
        if not in_process:
            return unavailable(
                "FailedDiscoveryCheck",
                f"failing or missing response from {url}: the embedded API server reaches no "
                "extension server but KubeVirt's stand-in (service kubevirt/virt-api)",
            )
        if not self._serves(group, version):
            return unavailable(
                "FailedDiscoveryCheck",
                f"failing or missing response from {url}: bad status from {url}: 404",
            )
        return {
            "type": "Available",
            "status": "True",
            "reason": "Passed",
            "message": "all checks passed",
        }

    def _endpoints_problem(
        self, namespace: str, name: str, port_name: str
    ) -> tuple[str, str] | None:
        slices = [
            r.obj
            for r in self.store.list(_DISCOVERY_GROUP, "endpointslices", namespace)[0]
            if ((r.obj.get("metadata") or {}).get("labels") or {}).get(_SERVICE_NAME_LABEL) == name
        ]
        where = f'service/{name} in "{namespace}"'
        if not slices:
            return "EndpointsNotFound", f"cannot find endpointslices for {where}"
        for es in slices:
            ready = any(
                ((e.get("conditions") or {}).get("ready") is not False)
                for e in es.get("endpoints") or ()
                if isinstance(e, dict)
            )
            named = any(
                isinstance(p, dict) and p.get("name", "") == port_name and p.get("port") is not None
                for p in es.get("ports") or ()
            )
            if ready and named:
                return None
        return (
            "MissingEndpoints",
            f'endpointslices for {where} have no addresses with port name "{port_name}"',
        )

    def _write_condition(self, obj: Obj, rv: int, condition: Obj) -> None:
        """``SetAPIServiceCondition``: a new status moves lastTransitionTime; an unchanged
        status writes nothing."""
        updated = copy.deepcopy(obj)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        current = next((c for c in conditions if c.get("type") == "Available"), None)
        if current is None:
            conditions.append(
                {
                    "type": "Available",
                    "status": condition["status"],
                    "lastTransitionTime": now_rfc3339(),
                    "reason": condition["reason"],
                    "message": condition["message"],
                }
            )
        else:
            if current.get("status") != condition["status"]:
                current["status"] = condition["status"]
                current["lastTransitionTime"] = now_rfc3339()
            current["reason"] = condition["reason"]
            current["message"] = condition["message"]
        if updated.get("status") == obj.get("status"):
            return
        with contextlib.suppress(StatusError):  # changed or gone meanwhile: the next pass
            self.store.update(_APIREGISTRATION, _APISERVICES, updated, expect_rv=rv)

    # ------------------------------------------------------------------ the proxy step

    def route(self, path: str) -> _Route | None:
        """The route of an aggregated group version ``path`` is under, if any."""
        if not path.startswith("/apis/"):
            return None
        parts = path.split("/", 4)
        if len(parts) < 4 or not parts[2] or not parts[3]:
            return None
        return self._routes.get((parts[2], parts[3]))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """After authorization: requests for an aggregated API go to its server."""
        try:
            self.sync()
        except Exception:
            log.exception("API aggregation controller failed")
        route = self.route(request.path)
        if route is None:
            return await handler(request)
        if not route.available or not route.standin:
            return _service_unavailable()
        answer = await self.standin.handle(request, get_context(request).user)
        if not isinstance(answer, web.Response) or answer.prepared:
            return answer  # a websocket: it ran to its end
        return await _relay(request, answer)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, _app: web.Application) -> None:
        self.sync()
        for group, resource in (
            (_APIREGISTRATION, _APISERVICES),
            ("", "services"),
            (_DISCOVERY_GROUP, "endpointslices"),
        ):
            self._tasks.append(asyncio.create_task(self._watch(group, resource)))

    async def stop(self, _app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _watch(self, group: str, resource: str) -> None:
        """Re-check after every change, so watchers of APIServices see conditions move
        without another request."""
        while True:
            watcher = self.store.watch(group, resource, since=self.store.revision())
            try:
                while await watcher.next() is not None:
                    try:
                        self.sync()
                    except Exception:
                        log.exception("API aggregation controller failed")
            finally:
                watcher.close()
            await asyncio.sleep(0.1)  # the watch ended (history overflow, shutdown): re-watch


AGGREGATOR: web.AppKey[Aggregator] = web.AppKey("cimp.kubevirt.aggregator", Aggregator)


def install(app: web.Application, store: Store) -> Aggregator:
    """Serve service-backed APIServices (KubeVirt's in-process) after the app's filters."""

    async def lookup(namespace: str, name: str) -> dict[str, Any] | None:
        record = store.get("kubevirt.io", "virtualmachineinstances", namespace, name)
        return copy.deepcopy(record.obj) if record is not None else None

    aggregator = Aggregator(store, app[REGISTRY], KubeVirtStandIn(lookup))
    app[AGGREGATOR] = aggregator
    app.middlewares.append(aggregator.middleware)
    app.on_startup.append(aggregator.start)
    app.on_cleanup.append(aggregator.stop)
    return aggregator
