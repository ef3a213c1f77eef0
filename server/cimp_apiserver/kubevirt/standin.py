"""KubeVirt's stand-in: the ``subresources.kubevirt.io`` API that virt-api serves.

In a cluster, KubeVirt's VirtualMachineInstances are a CustomResourceDefinition and their
console an aggregated API: kube-apiserver authenticates and authorizes the request, then
proxies it to virt-api, naming the user in the front proxy's headers. This module answers
what virt-api answers there, for both places it runs: inside the embedded server (which hands
it the request with the user its filters settled on) and as its own HTTPS server beside a real
kube-apiserver (:mod:`.server`, which reads the user from the front proxy's headers).

No VM runs. The console greets with the user the request arrived as, then echoes: exactly
what shows who reached which console, after which authorization decision. Otherwise it
follows virt-api: the VMI is looked up first (``virtualmachineinstance.kubevirt.io "x" not
found``), a VMI without a serial console, a failed VMI or one whose phase is set to anything
but ``Running`` is refused as virt-api refuses it (a VMI without a phase counts as running:
no virt-controller runs to set one), and only then must the request be a websocket upgrade.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from constrained_impersonation.identity import Identity

from ..status import StatusError, bad_request, conflict, not_found, status_response

__all__ = [
    "CONSOLE_SUBPROTOCOL",
    "GROUP",
    "VERSION",
    "KubeVirtStandIn",
    "VMILookup",
    "greeting",
]

GROUP = "subresources.kubevirt.io"
VERSION = "v1"
VMI_GROUP = "kubevirt.io"
CONSOLE_SUBPROTOCOL = "plain.kubevirt.io"

# (namespace, name) -> the VMI object, or None when it does not exist.
VMILookup = Callable[[str, str], Awaitable[dict[str, Any] | None]]

_CONSOLE = re.compile(
    rf"/apis/{re.escape(GROUP)}/{VERSION}/namespaces/(?P<namespace>[^/]+)"
    r"/virtualmachineinstances/(?P<name>[^/]+)/console"
)
_DISCOVERY_PATHS = (f"/apis/{GROUP}/{VERSION}", f"/apis/{GROUP}/{VERSION}/")
# gorilla/websocket's refusal of a plain request, which virt-api wraps in a BadRequest.
_NOT_WEBSOCKET = (
    "websocket: the client is not using the websocket protocol: "
    "'upgrade' token not found in 'Connection' header"
)


def greeting(namespace: str, name: str, user: Identity) -> str:
    """The console's first line: who it was opened as (after any impersonation)."""
    return f"connected to {namespace}/{name} as {user.user} groups={json.dumps(list(user.groups))}"


def _vmi_not_found(name: str) -> StatusError:
    # virt-api names the resource in the singular: v1.Resource("virtualmachineinstance").
    return not_found("virtualmachineinstance", name, VMI_GROUP)


def _text(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


class KubeVirtStandIn:
    """virt-api's ``subresources.kubevirt.io/v1``: discovery and the VMI console."""

    def __init__(self, lookup: VMILookup, *, heartbeat: float = 30.0) -> None:
        self._lookup = lookup
        self._heartbeat = heartbeat

    @staticmethod
    def resource_list() -> dict[str, Any]:
        """``GET /apis/subresources.kubevirt.io/v1``, shaped as virt-api writes it (only the
        subresource served here; virt-api lists kind and verbs of none)."""
        return {
            "kind": "APIResourceList",
            "apiVersion": VERSION,
            "groupVersion": f"{GROUP}/{VERSION}",
            "resources": [
                {
                    "name": "virtualmachineinstances/console",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "",
                    "verbs": None,
                }
            ],
        }

    async def handle(self, request: web.Request, user: Identity | None) -> web.StreamResponse:
        """Answer ``request`` (a path under ``/apis/subresources.kubevirt.io/v1``) for
        ``user``, the identity the front proxy vouched for (None: it named nobody)."""
        path = request.path
        if path in _DISCOVERY_PATHS:
            if request.method not in ("GET", "HEAD"):
                return _text(405, "405: Method Not Allowed")
            return web.json_response(self.resource_list())
        match = _CONSOLE.fullmatch(path)
        if match is None:
            return _text(404, "404 page not found\n")
        if request.method != "GET":
            return _text(405, "405: Method Not Allowed")
        if user is None:
            return status_response(StatusError(401, "Unauthorized", "request is not authenticated"))
        try:
            return await self._console(request, user, match["namespace"], match["name"])
        except StatusError as err:
            return status_response(err)

    async def _console(
        self, request: web.Request, user: Identity, namespace: str, name: str
    ) -> web.StreamResponse:
        try:
            vmi = await self._lookup(namespace, name)
        except Exception as exc:  # the API is unreachable: virt-api's 500, not a traceback
            raise StatusError(
                500,
                "InternalError",
                f"Internal error occurred: unable to retrieve vmi [{name}]: {exc}",
            ) from None
        if vmi is None:
            raise _vmi_not_found(name)
        _validate_for_console(vmi, name)
        ws = web.WebSocketResponse(protocols=(CONSOLE_SUBPROTOCOL,), heartbeat=self._heartbeat)
        if not ws.can_prepare(request).ok:
            raise bad_request(_NOT_WEBSOCKET)
        await ws.prepare(request)
        await ws.send_str(greeting(namespace, name, user))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            else:
                break
        return ws


def _field(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, None where an object is missing or not a map."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _validate_for_console(vmi: dict[str, Any], name: str) -> None:
    """virt-api's checks before it dials the VMI's serial console."""
    if _field(vmi, "spec", "domain", "devices", "autoattachSerialConsole") is False:
        raise bad_request("No serial consoles are present.")
    phase = _field(vmi, "status", "phase")
    if phase == "Failed":
        raise conflict("virtualmachineinstance", name, VMI_GROUP, "VMI is in failed status")
    if phase and phase != "Running":
        raise bad_request("VMI is not running")
