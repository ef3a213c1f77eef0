"""Two core/v1 resources kube-apiserver computes rather than stores: ``componentstatuses``
and ``bindings``.

``componentstatuses`` (``kubectl get cs``) reports the health of the scheduler, the
controller-manager and etcd as kube-apiserver probes them: with neither of the first two
running (as here and in the kube-apiserver of the test harness), both are unhealthy with the
connection error kube reports; the storage is healthy. ``bindings`` (create only) binds the
pod its body names to a node, as ``pods/<name>/binding`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bodies import Output, json_response, negotiate
from .context import RequestContext
from .status import StatusError, not_found
from .storage import Record
from .tables import table

if TYPE_CHECKING:
    from .handlers import Target
    from .writes import Writes

__all__ = ["component_statuses", "serve"]

Obj = dict[str, Any]
_NOT_ALLOWED = "the server does not allow this method on the requested resource"
_REFUSED = (
    'Get "https://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: connection refused'
)


def component_statuses() -> list[Obj]:
    """What kube-apiserver reports for its components when only it and etcd run."""

    def status(name: str, healthy: bool, message: str) -> Obj:
        condition = {
            "type": "Healthy",
            "status": "True" if healthy else "False",
            "message": message,
        }
        return {"metadata": {"name": name}, "conditions": [condition]}

    return [
        status("scheduler", False, _REFUSED.format(port=10259)),
        status("controller-manager", False, _REFUSED.format(port=10257)),
        status("etcd-0", True, "ok"),
    ]


def serves(group: str, resource: str) -> bool:
    return group == "" and resource in ("componentstatuses", "bindings")


async def serve(
    request: web.Request, ctx: RequestContext, target: Target, writes: Writes
) -> web.StreamResponse:
    method = request.method.upper()
    if target.rt.resource == "bindings":
        if method != "POST" or target.name:
            raise StatusError(405, "MethodNotAllowed", _NOT_ALLOWED, {})
        body = await writes._body(request)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        pods = writes.lifecycle.registry.lookup("", "v1", "pods")
        assert pods is not None
        from .handlers import Target as PodTarget

        name = str((meta or {}).get("name") or "")
        pod = PodTarget(pods, target.namespace, name, "binding", True)
        return await writes._bind(request, ctx, pod, body)
    if method not in ("GET", "HEAD"):
        raise StatusError(405, "MethodNotAllowed", _NOT_ALLOWED, {})
    output = negotiate(
        request.headers.get("Accept"), allow=(Output.JSON, Output.YAML, Output.TABLE)
    )
    statuses = [{"kind": "ComponentStatus", "apiVersion": "v1", **s} for s in component_statuses()]
    if target.name:
        statuses = [s for s in statuses if s["metadata"]["name"] == target.name]
        if not statuses:
            raise not_found("componentstatus", target.name)
    if output == Output.TABLE:
        records = [Record.of(item, 0) for item in statuses]
        include = request.query.get("includeObject", "Metadata")
        return json_response(table(target.rt, records, "", include))
    if target.name:
        return json_response(statuses[0], output=output)
    items = [{k: v for k, v in s.items() if k not in ("kind", "apiVersion")} for s in statuses]
    listed = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items}
    return json_response(listed, output=output)
