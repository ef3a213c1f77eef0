"""The KubeVirt serial console (``virtualmachineinstances/<vmi>/console``) as a websocket.

No VM runs here: the console greets with the identity the request acts as (after
impersonation), then echoes. That is exactly what the KEP's story 2 needs to show: who
reached the console of which VMI, through which authorization decision.
"""

from __future__ import annotations

import json

from aiohttp import WSMsgType, web

from .context import RequestContext
from .hooks import ConnectHandler
from .status import bad_request, not_found
from .storage import Store

__all__ = ["CONSOLE_KEY", "KUBEVIRT_SUBPROTOCOL", "console_connector", "greeting"]

CONSOLE_KEY = ("subresources.kubevirt.io", "virtualmachineinstances", "console")
KUBEVIRT_SUBPROTOCOL = "plain.kubevirt.io"


def greeting(namespace: str, name: str, ctx: RequestContext) -> str:
    user = ctx.user
    if user is None:
        return f"connected to {namespace}/{name} as <unknown>"
    groups = json.dumps(list(user.groups))
    return f"connected to {namespace}/{name} as {user.user} groups={groups}"


def console_connector(store: Store) -> ConnectHandler:
    """The connector serving the console of VMIs held in ``store``."""

    async def console(
        request: web.Request, ctx: RequestContext, namespace: str, name: str
    ) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise bad_request("the console subresource is served over a websocket (GET)")
        if store.get("kubevirt.io", "virtualmachineinstances", namespace, name) is None:
            raise not_found("virtualmachineinstances", name, "kubevirt.io")
        ws = web.WebSocketResponse(protocols=(KUBEVIRT_SUBPROTOCOL,), heartbeat=30.0)
        if not ws.can_prepare(request).ok:
            raise bad_request("the console subresource requires a websocket upgrade")
        await ws.prepare(request)
        await ws.send_str(greeting(namespace, name, ctx))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            else:
                break
        return ws

    return console
