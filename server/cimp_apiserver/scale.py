"""The ``scale`` subresource of the built-in workloads, as kube-apiserver serves it.

Deployments, ReplicaSets, StatefulSets and ReplicationControllers answer ``GET``, ``PUT`` and
``PATCH`` on ``<resource>/<name>/scale`` with an ``autoscaling/v1`` ``Scale``: the parent's
``spec.replicas``, ``status.replicas`` and label selector (as a string), under the parent's
name, uid, resourceVersion and creation time. A write changes only the parent's
``spec.replicas`` (through the same update path as any write: admission, validation,
resourceVersion preconditions, ``dryRun``); nothing reconciles it, as no controller runs.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bodies import (
    PATCH_TYPES,
    Output,
    decode_json,
    json_response,
    media_type,
    negotiate,
    read_body,
)
from .context import RequestContext
from .managed_fields import validate_options
from .patch import PatchError, apply_json_patch, merge_patch, strategic_merge_patch
from .status import StatusError, bad_request, invalid, unsupported_media_type
from .storage import Record

if TYPE_CHECKING:
    from .handlers import Target
    from .writes import Writes

__all__ = ["label_selector_string", "scale_of", "serve"]

Obj = dict[str, Any]
API_VERSION = "autoscaling/v1"
_NOT_ALLOWED = "the server does not allow this method on the requested resource"


def _requirement(key: str, operator: str, values: list[str]) -> str:
    ordered = ",".join(sorted(values))
    if operator == "In":
        return f"{key} in ({ordered})"
    if operator == "NotIn":
        return f"{key} notin ({ordered})"
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    return f"{key}={ordered}"


def label_selector_string(selector: Any) -> str:
    """A label selector as ``labels.Selector.String()`` prints it (requirements by key).

    ``selector`` is a ``metav1.LabelSelector`` or, for ReplicationControllers, a plain map.
    """
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((str(key), f"{key}={value}"))
    for expression in selector.get("matchExpressions") or ():
        if isinstance(expression, dict):
            key = str(expression.get("key", ""))
            text = _requirement(
                key, str(expression.get("operator", "")), list(expression.get("values") or [])
            )
            requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements))


def scale_of(parent: Obj) -> Obj:
    """The ``Scale`` of a workload object."""
    meta = parent.get("metadata") or {}
    spec = parent.get("spec") or {}
    status = parent.get("status") or {}
    scale_meta = {
        key: meta[key]
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if key in meta
    }
    scale_status: Obj = {"replicas": int(status.get("replicas") or 0)}
    selector = label_selector_string(spec.get("selector"))
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": API_VERSION,
        "metadata": scale_meta,
        "spec": {"replicas": int(spec.get("replicas") or 0)} if spec.get("replicas") else {},
        "status": scale_status,
    }


def _wanted(writes: Writes, body: Any, name: str, mode: str) -> tuple[int, int | None]:
    """The replicas a Scale asks for and its resourceVersion precondition."""
    if not isinstance(body, dict):
        raise bad_request("the object provided is not a Scale")
    writes.check_type_meta("Scale", (API_VERSION,), body)
    writes.decode_typed("Scale", API_VERSION, body, mode)
    if not isinstance(body.get("metadata"), dict):
        body["metadata"] = {}
    writes._same_name(body, name)
    replicas = (body.get("spec") or {}).get("replicas") or 0
    if replicas < 0:
        raise invalid(
            "Scale",
            name,
            "autoscaling",
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            ],
        )
    raw_rv = body["metadata"].get("resourceVersion")
    if raw_rv:
        from .listing import parse_resource_version

        return int(replicas), parse_resource_version(str(raw_rv))
    return int(replicas), None


async def serve(
    request: web.Request, ctx: RequestContext, target: Target, writes: Writes
) -> web.StreamResponse:
    """``GET``/``PUT``/``PATCH`` on a built-in workload's ``scale`` subresource."""
    rt = target.rt
    method = request.method.upper()
    if method in ("GET", "HEAD"):
        output = negotiate(request.headers.get("Accept"))
        record = writes._get(rt, target.namespace, target.name)
        return json_response(scale_of(record.obj), output=output)
    if method not in ("PUT", "PATCH"):
        raise StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    negotiate(request.headers.get("Accept"), allow=(Output.JSON, Output.YAML))
    if method == "PUT":
        opts = validate_options("UpdateOptions", request.query)
        replicas, client_rv = _wanted(
            writes, await writes._body(request), target.name, opts.field_validation
        )
    else:
        content_type = media_type(request.headers.get("Content-Type"))
        ptype = PATCH_TYPES.get(content_type)
        if ptype is None:
            raise unsupported_media_type(content_type, list(PATCH_TYPES))
        opts = validate_options("PatchOptions", request.query, ptype)
        patch = decode_json(await read_body(request), prefix="")
        current = scale_of(writes._get(rt, target.namespace, target.name).obj)
        try:
            if ptype == "json":
                patched = apply_json_patch(copy.deepcopy(current), patch)
            elif ptype == "merge":
                patched = merge_patch(copy.deepcopy(current), patch)
            else:
                patched = strategic_merge_patch(
                    copy.deepcopy(current), patch, "io.k8s.api.autoscaling.v1.Scale"
                )
        except PatchError as err:
            reason = "BadRequest" if err.code == 400 else "Invalid"
            raise StatusError(err.code, reason, err.message) from None
        replicas, client_rv = _wanted(writes, patched, target.name, opts.field_validation)

    def compute(old: Record) -> Obj:
        obj = copy.deepcopy(old.obj)
        spec = obj.setdefault("spec", {})
        spec["replicas"] = replicas
        return obj

    response = await writes._replace(request, ctx, target, compute, client_rv, opts.dry_run, [])
    assert isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray)
    return json_response(scale_of(json.loads(response.body)), response.status)
