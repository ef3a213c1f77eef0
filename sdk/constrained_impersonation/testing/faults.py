"""Fault injection for tests: a TCP proxy that drops and stalls connections.

Put :class:`FaultProxy` between a client and the embedded API server to cut connections
mid-list or mid-watch, stall responses, or refuse new connections, without touching either
side. TLS passes through untouched (the server certificate is valid for 127.0.0.1, so clients
verify it as usual). HTTP-level faults (429 storms, 5xx bursts) are injected by the server
itself: see ``APIServer.faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

__all__ = ["FaultProxy"]

_CHUNK = 65536


class FaultProxy:
    """A loopback TCP proxy to ``target_host:target_port`` with switchable faults.

    >>> with FaultProxy("127.0.0.1", server.port) as proxy:      # doctest: +SKIP
    ...     client = server.api_client(); client.configuration.host = proxy.url
    ...     proxy.drop_connections()        # every open connection is reset now
    """

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._refuse = False
        self.connections_total = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="cimp-fault-proxy", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        self._flowing.set()

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._conns):
                writer.transport.abort()
            if self._server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 2)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # ------------------------------------------------------------------ faults

    def drop_connections(self) -> int:
        """Reset every open connection (as a crashed server or a broken network would)."""
        loop = self._loop
        if loop is None:
            return 0
        future = asyncio.run_coroutine_threadsafe(self._drop(), loop)
        return future.result(timeout=5)

    async def _drop(self) -> int:
        writers = list(self._conns)
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    def stall(self) -> None:
        """Stop forwarding bytes in both directions; connections stay open (a stalled peer)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def refuse_new(self, refuse: bool = True) -> None:
        """Close new connections immediately after accepting them (a restarting server)."""
        self._refuse = refuse

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    # ------------------------------------------------------------------ plumbing

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        if self._refuse:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._conns.add(writer)
        self._conns.add(up_writer)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._conns.discard(w)
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                while not self._flowing.is_set():
                    await asyncio.sleep(0.02)
                    if writer.transport.is_closing():
                        return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            # Half-close propagates EOF; an abort elsewhere ends the other direction too.
            with contextlib.suppress(Exception):
                if not writer.transport.is_closing():
                    writer.write_eof()
