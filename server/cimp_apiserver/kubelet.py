"""What needs a kubelet: ``pods/log``, ``exec``, ``attach``, ``portforward``, the proxies.

kube-apiserver serves these by calling the kubelet of the pod's node (or proxying to a pod or
Service address). No kubelet runs next to the embedded server, so each answers as a
kube-apiserver without a reachable kubelet does, in its order of checks: the pod (404), the
container named or implied (400), the node (400 without one; a log is then empty, 204), the
node's address (500 without one), the upgrade a stream needs (400), and finally the
connection that nothing accepts (500 for logs, 503 for proxies). Never a 404 that reads as
"pod not found" for a pod that exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .status import StatusError, bad_request, not_found
from .storage import Store

if TYPE_CHECKING:
    from .handlers import Target

__all__ = ["SUBRESOURCES", "serve", "serves"]

Obj = dict[str, Any]
# (resource, subresource) of the core group served here.
SUBRESOURCES = frozenset(
    {
        ("pods", "log"),
        ("pods", "exec"),
        ("pods", "attach"),
        ("pods", "portforward"),
        ("pods", "proxy"),
        ("nodes", "proxy"),
        ("services", "proxy"),
    }
)
_STREAMS = ("exec", "attach", "portforward")
# kube-apiserver's default --kubelet-preferred-address-types.
_ADDRESS_TYPES = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")
_NOT_ALLOWED = "the server does not allow this method on the requested resource"


def serves(group: str, resource: str, subresource: str) -> bool:
    return group == "" and (resource, subresource) in SUBRESOURCES


def _internal(message: str) -> StatusError:
    return StatusError(500, "", message, None)


def _unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message, None)


def _int_param(request: web.Request, name: str) -> None:
    raw = request.query.get(name)
    if raw is None:
        return
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not digits.isdigit():
        raise bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')


def _container(pod: Obj, name: str, requested: str) -> str:
    """The container a log, exec or attach is for (400 when unclear or unknown)."""
    spec = pod.get("spec") or {}
    containers = [c.get("name", "") for c in spec.get("containers") or () if isinstance(c, dict)]
    init = [c.get("name", "") for c in spec.get("initContainers") or () if isinstance(c, dict)]
    ephemeral = [
        c.get("name", "") for c in spec.get("ephemeralContainers") or () if isinstance(c, dict)
    ]
    if requested:
        if requested not in (*containers, *init, *ephemeral):
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(containers) == 1:
        return str(containers[0])
    message = (
        f"a container name must be specified for pod {name}, choose one of: "
        f"[{' '.join(containers)}]"
    )
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    raise bad_request(message)


def _address(node: Obj) -> str:
    """The node address kube-apiserver would call its kubelet at (500 when none)."""
    addresses = [
        a for a in (node.get("status") or {}).get("addresses") or () if isinstance(a, dict)
    ]
    for kind in _ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return str(address["address"])
    known = " ".join(f"{{{a.get('type', '')} {a.get('address', '')}}}" for a in addresses)
    raise _internal(f"no preferred addresses found; known addresses: [{known}]")


def _port(node: Obj) -> int:
    endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint")
    port = (endpoint or {}).get("Port") if isinstance(endpoint, dict) else None
    return int(port) if isinstance(port, int) else 0


def _host(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "localhost")


async def serve(request: web.Request, target: Target, store: Store) -> web.StreamResponse:
    """Answer a kubelet subresource request as kube-apiserver without a kubelet does."""
    resource, sub = target.rt.resource, target.subresource
    method = request.method.upper()
    if resource == "services":
        # kube looks for the Service's endpoints first; there are none without controllers.
        raise _unavailable(f'no endpoints available for service "{target.name}"')
    if resource == "nodes":
        node = store.get("", "nodes", "", target.name)
        if node is None:
            raise not_found("nodes", target.name)
        ip = _address(node.obj)
        if _loopback(ip):
            raise bad_request("address not allowed")
        raise _unavailable(
            f"error trying to reach service: dial tcp {_host(ip, _port(node.obj))}: connect: "
            "connection refused"
        )
    pod_record = store.get("", "pods", target.namespace, target.name)
    if sub == "log" and method not in ("GET", "HEAD"):
        raise StatusError(405, "MethodNotAllowed", _NOT_ALLOWED, {})
    if pod_record is None:
        raise not_found("pods", target.name)
    pod = pod_record.obj
    if sub == "proxy":
        ip = str((pod.get("status") or {}).get("podIP") or "")
        if not ip or _loopback(ip):
            raise bad_request("address not allowed")
        raise _unavailable(
            f"error trying to reach service: dial tcp {_host(ip, 80)}: connect: connection refused"
        )
    if sub == "log":
        for name in ("tailLines", "limitBytes", "sinceSeconds"):
            _int_param(request, name)
    container = ""
    if sub != "portforward":
        container = _container(pod, target.name, request.query.get("container", ""))
    node_name = str((pod.get("spec") or {}).get("nodeName") or "")
    if not node_name:
        if sub == "log":
            return web.Response(status=204)  # no node yet: nothing logged
        raise bad_request(f"pod {target.name} does not have a host assigned")
    node = store.get("", "nodes", "", node_name)
    if node is None:
        raise not_found("pods", node_name)  # kube's wording: the node's name, as a pod
    ip = _address(node.obj)
    host = _host(ip, _port(node.obj))
    if sub in _STREAMS:
        if request.headers.get("Upgrade", "").lower() not in ("spdy/3.1", "websocket"):
            raise bad_request("Upgrade request required")
        raise _internal(f"error dialing backend: dial tcp {host}: connect: connection refused")
    raise _internal(
        f'Get "https://{host}/containerLogs/{target.namespace}/{target.name}/{container}": '
        f"dial tcp {host}: connect: connection refused"
    )
