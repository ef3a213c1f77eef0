"""Watch streams: JSON lines over chunked HTTP, as kube-apiserver writes them.

A stream reports store events (``ADDED``/``MODIFIED``/``DELETED``), periodic ``BOOKMARK``s
when asked, the ``k8s.io/initial-events-end`` bookmark after ``sendInitialEvents``, and ends
with an ``ERROR`` event carrying a Status (410 Expired for a compacted resourceVersion), on
``timeoutSeconds``, on server shutdown or when the client cannot keep up. A client that
vanishes or stops reading costs one watcher until the next write or check, never a stalled
writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .resources import ResourceType
from .status import StatusError
from .storage import Record, Store, encode
from .storage.watcher import Watcher

__all__ = ["WatchParams", "serve_watch"]

log = logging.getLogger("constrained_impersonation.apiserver.watch")

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_MAX_BATCH = 256 * 1024
_LIVENESS_CHECK = 1.0

EncodeObject = Callable[[Record], bytes]


@dataclass(frozen=True)
class WatchParams:
    """One watch request, already validated."""

    rt: ResourceType
    namespace: str | None
    since: int | None
    initial: bool
    initial_end_bookmark: bool
    bookmarks: bool
    timeout: float
    predicate: Callable[[dict[str, Any]], bool] | None
    bookmark_interval: float
    write_timeout: float


def default_timeout(min_request_timeout: float) -> float:
    """kube's default for a watch without ``timeoutSeconds``: uniform in [min, 2*min)."""
    return min_request_timeout * (1 + random.random())  # noqa: S311 - jitter, not security


def event_line(kind: str, obj_raw: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + obj_raw + b"}\n"


def _bookmark(rt: ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return event_line(
        "BOOKMARK", encode({"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta})
    )


def _alive(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def serve_watch(
    request: web.Request,
    store: Store,
    params: WatchParams,
    encode_object: EncodeObject | None = None,
) -> web.StreamResponse:
    """Stream events to the client until the watch ends; always returns the response."""
    to_bytes: EncodeObject = encode_object or (lambda rec: rec.raw)
    rt = params.rt
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    response.enable_chunked_encoding()
    try:
        watcher = store.watch(
            rt.group,
            rt.resource,
            params.namespace,
            since=params.since,
            initial=params.initial,
            predicate=params.predicate,
        )
    except StatusError as err:
        # kube answers 200 and reports the failure as the stream's only event.
        await response.prepare(request)
        await response.write(event_line("ERROR", encode(err.body())))
        await response.write_eof()
        return response
    snapshot = store.revision()
    try:
        await response.prepare(request)
        await _pump(request, response, store, watcher, params, snapshot, to_bytes)
    except (TimeoutError, ConnectionError, RuntimeError) as exc:
        # The client went away or stopped reading: drop the connection, keep serving others.
        log.debug("watch of %s ended: %r", rt.resource, exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    finally:
        watcher.close()
    if watcher.overflowed:
        log.info("watch of %s closed: client too slow", rt.resource)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    store: Store,
    watcher: Watcher,
    params: WatchParams,
    snapshot: int,
    to_bytes: EncodeObject,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + params.timeout
    next_bookmark = loop.time() + params.bookmark_interval
    initial_end_pending = params.initial_end_bookmark

    async def write(data: bytes) -> None:
        async with asyncio.timeout(params.write_timeout):
            await response.write(data)

    while True:
        batch: list[bytes] = []
        size = 0
        while size < _MAX_BATCH:
            if initial_end_pending and watcher.backlog_size() == 0:
                batch.append(_bookmark(params.rt, snapshot, initial_end=True))
                initial_end_pending = False
            item = watcher.poll()
            if item is None:
                break
            line = event_line(item[0], to_bytes(item[1]))
            batch.append(line)
            size += len(line)
        if batch:
            await write(b"".join(batch))
            continue
        if watcher.closed or not _alive(request):
            return
        now = loop.time()
        if now >= deadline:
            return
        if params.bookmarks and now >= next_bookmark:
            await write(_bookmark(params.rt, store.revision()))
            next_bookmark = now + params.bookmark_interval
            continue
        wake = min(deadline, now + _LIVENESS_CHECK)
        if params.bookmarks:
            wake = min(wake, next_bookmark)
        try:
            async with asyncio.timeout(max(0.0, wake - now)):
                await watcher.wait()
        except TimeoutError:
            pass
