"""List, then watch, the Pods of one node; reconnect and relist so nothing is lost.

Protocol (the reflector's, reduced to what a node agent needs):

1. ``GET /api/v1/pods?fieldSelector=spec.nodeName=<node>`` (paged), parsed with ``json.loads``
   from the raw response: generated models cost about 8x more CPU and memory on this hot
   path. Each page is projected at once and dropped; pages after the first are sized in bytes
   (``SyncOptions.page_bytes``). The result replaces the inventory atomically.
2. ``GET ...&watch=true&resourceVersion=<rv>&allowWatchBookmarks=true`` streamed line by
   line from the urllib3 response; each complete line is one event applied in order, and
   the resume point advances with every event and bookmark.
3. The server ends a watch after ``timeoutSeconds``: re-watch from the resume point at once.
   A broken connection, a 5xx/429 or a refused impersonation: wait (exponential backoff with
   full jitter) and re-watch from the resume point. ``410 Gone`` (the resume point left the
   server's history, e.g. after a restart): relist and replace the inventory.
4. A watch that goes silent is abandoned: the server sends a BOOKMARK at least about once a
   minute (kube) to a watch that allows them, so when neither an event nor a bookmark arrived
   within ``watch_idle_timeout`` the connection is presumed stalled (a half-dead load
   balancer, a hung server) and the agent re-watches from the resume point. Without this a
   stalled watch would only be noticed after ``timeoutSeconds`` plus the read timeout
   (6-11 minutes with the defaults), with a stale inventory all along.

Because the inventory is keyed by ``namespace/name`` and a relist swaps the whole map, a Pod
can be neither duplicated (replayed events overwrite) nor lost (a relist is the truth).

Requests are built by the session's ``ApiClient`` itself (``param_serialize`` + ``call_api``,
exactly what ``CoreV1Api.list_pod_for_all_namespaces(..., _preload_content=False)`` does), so
they pass through the session's scope guard, impersonation headers, token refresh and retries.
``CoreV1Api`` is not imported: with kubernetes 37 importing it loads a pydantic model for
every core/v1 type, +78 MB RSS and +0.8 s start-up, more than the agent's whole budget.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from constrained_impersonation.retry import parse_retry_after

from .inventory import Inventory
from .logs import log
from .metrics import Metrics
from .projection import PodView

__all__ = ["Gone", "PodSync", "SyncOptions"]


class Gone(Exception):
    """The resume point is too old (HTTP 410 / watch ERROR 410): the caller must relist."""


class WatchError(Exception):
    """The watch stream reported an error other than 410 (a Status in an ERROR event)."""


class WatchIdle(Exception):
    """Neither an event nor a bookmark arrived within the idle timeout: the stream stalled."""


class APIError(Exception):
    """A non-2xx answer; ``status`` is the HTTP status, the message the server's.

    ``retry_after`` is the server's ``Retry-After`` in seconds (429 from priority and
    fairness, 503 during a rollout), honoured as the minimum wait before reconnecting.
    """

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"HTTP {status}: {message}")


def _message(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return data[:300].decode(errors="replace")
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body)[:500]
    return str(body)[:300]


@dataclass(frozen=True)
class SyncOptions:
    """Timing knobs; defaults suit a production DaemonSet."""

    watch_timeout: float = 300.0
    """Server-side ``timeoutSeconds`` of a watch; each watch uses 1x-2x this (jitter)."""
    backoff_base: float = 0.2
    """First reconnect backoff ceiling (seconds); doubles per consecutive failure."""
    backoff_max: float = 5.0
    """Largest reconnect backoff ceiling (seconds)."""
    page_size: int = 500
    """Largest ``limit`` of a list page (a node holds at most a few hundred Pods)."""
    first_page: int = 4
    """``limit`` of a list's first page, before the size of this node's Pods is known."""
    page_bytes: int = 4 * 1024 * 1024
    """Later pages ask for as many Pods as fit this many bytes at the largest average Pod
    size seen so far in this list: a relist holds one page of full Pods at a time, so a node
    of Pods near kube's 1.5 MiB object limit is listed a few Pods per page instead of
    hundreds of megabytes in one. Not a hard bound: huge Pods that sort after small ones can
    still arrive together in one page of up to ``page_size`` (streaming the initial list,
    ``sendInitialEvents``, would bound that too)."""
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    """Socket timeout of list requests, and added to ``watch_timeout`` for watches."""
    watch_idle_timeout: float = 150.0
    """Abandon a watch when no event or bookmark arrived for this long (seconds; 0: never).
    kube sends a bookmark about once a minute, so the default allows two missed ones."""


def _iter_lines(response: Any, idle_timeout: float = 0.0) -> Iterator[bytes]:
    """Complete ``\\n``-terminated lines of a streamed response; a torn last line is dropped.

    With ``idle_timeout`` > 0, raise :class:`WatchIdle` when no complete line arrived for that
    long. The socket's read timeout (set to the same value by the caller) ends a read that
    gets no byte at all; this check also ends a stream that trickles bytes but no event.
    """
    pending = b""
    if getattr(response, "chunked", False):
        chunks: Iterator[bytes] = response.read_chunked(decode_content=True)
    else:
        chunks = iter(lambda: bytes(response.read1(65536)), b"")
    last_line = time.monotonic()
    for chunk in _idle_guarded(chunks, idle_timeout):
        if not chunk:
            continue
        pending += chunk
        if b"\n" not in chunk:
            if idle_timeout > 0 and time.monotonic() - last_line > idle_timeout:
                raise WatchIdle(f"no complete watch event in {idle_timeout:g}s")
            continue
        last_line = time.monotonic()
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line


def _idle_guarded(chunks: Iterator[bytes], idle_timeout: float) -> Iterator[bytes]:
    """``chunks``, with a socket read timeout turned into :class:`WatchIdle`."""
    if idle_timeout <= 0:
        yield from chunks
        return
    from urllib3.exceptions import ReadTimeoutError

    try:
        yield from chunks
    except ReadTimeoutError as exc:
        raise WatchIdle(f"no event or bookmark in {idle_timeout:g}s") from exc


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _error_name(exc: BaseException) -> str:
    status = _status_of(exc)
    return str(status) if status else type(exc).__name__


class PodSync:
    """Keeps ``inventory`` equal to the server's Pods on ``node`` until :meth:`stop`."""

    def __init__(
        self,
        api_client: Any,
        node: str,
        inventory: Inventory,
        metrics: Metrics,
        options: SyncOptions | None = None,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.api_client = api_client
        self.node = node
        self.selector = f"spec.nodeName={node}"
        self.inventory = inventory
        self.metrics = metrics
        self.options = options or SyncOptions()
        self._jitter = jitter
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._thread: threading.Thread | None = None
        self.last_error = ""
        self.failures = 0
        self.gone_streak = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="cimp-pod-sync", daemon=True)
        self._thread.start()

    @property
    def watching(self) -> bool:
        """True while a watch stream is open (the inventory is live, not stale)."""
        return self._response is not None

    @property
    def alive(self) -> bool:
        """False only if the sync thread died (a bug): liveness fails and kubelet restarts."""
        return self._thread is None or self._thread.is_alive()

    def stop(self, timeout: float = 3.0) -> None:
        """End the watch now: interrupt the blocking read and join the thread."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            self._interrupt(response)
        if self._thread is not None:
            self._thread.join(timeout)

    @staticmethod
    def _interrupt(response: Any) -> None:
        shutdown = getattr(response, "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()  # urllib3 >= 2.3: unblocks a read in another thread
            else:
                response.close()
        except Exception as exc:  # already closed: nothing left to interrupt
            log(logging.DEBUG, "interrupting the watch failed", error=str(exc))

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        """Thread body: list, watch, and recover until stopped."""
        need_list = True
        list_reason = "initial"
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list(list_reason)
                    need_list = False
                    self.failures = 0
                reason = self._watch()
                self.metrics.watch_restarts.inc(reason=reason)
            except Gone:
                self.metrics.watch_restarts.inc(reason="gone")
                self.gone_streak += 1
                log(
                    logging.INFO,
                    "resourceVersion expired; relisting",
                    node=self.node,
                    resourceVersion=self.inventory.resource_version,
                )
                need_list, list_reason = True, "gone"
                if self.gone_streak > 1:
                    # 410 again right after a relist: back off rather than relist in a loop.
                    self.failures += 1
                    self._stop.wait(self._backoff())
            except Exception as exc:
                if self._stop.is_set():
                    break
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not need_list:
                    idle = isinstance(exc, WatchIdle)
                    self.metrics.watch_restarts.inc(reason="idle" if idle else "error")
                delay = self._backoff()
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, int | float):
                    # The server said when; add jitter so a fleet does not return in step.
                    delay = max(delay, min(float(retry_after), 60.0) * (1 + 0.2 * self._jitter()))
                log(
                    logging.WARNING if self.failures < 5 else logging.ERROR,
                    "pod list/watch failed; retrying",
                    node=self.node,
                    phase="list" if need_list else "watch",
                    error=self.last_error[:500],
                    attempt=self.failures,
                    retryIn=round(delay, 3),
                )
                self._stop.wait(delay)

    def _backoff(self) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(failures-1)))."""
        exponent = min(self.failures - 1, 30)
        ceiling = min(self.options.backoff_max, self.options.backoff_base * float(2**exponent))
        return self._jitter() * ceiling

    # ------------------------------------------------------------------ requests

    def _get(self, query: list[tuple[str, str]], timeout: tuple[float, float]) -> Any:
        """``GET /api/v1/pods?<query>`` through the session; the raw urllib3 response (2xx)."""
        request = self.api_client.param_serialize(
            "GET",
            "/api/v1/pods",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            data = response.read()
            after = parse_retry_after(response.response.headers.get("Retry-After"))
            raise APIError(int(response.status), _message(data), after)
        return response.response

    # ------------------------------------------------------------------ list

    def _list(self, reason: str) -> None:
        views: list[PodView] = []
        resource_version = ""
        token: str | None = None
        started = time.monotonic()
        limit = max(1, min(self.options.first_page, self.options.page_size))
        pod_bytes = 0.0  # largest average size of a Pod in a page so far
        while True:
            page, size = self._list_page(token, limit)
            items = page.get("items") or []
            # Keep only the projections: the page's full Pods go before the next page comes.
            views.extend(self.inventory.project(pod) for pod in items)
            metadata = page.get("metadata") or {}
            resource_version = str(metadata.get("resourceVersion", resource_version))
            token = metadata.get("continue") or None
            if items:
                pod_bytes = max(pod_bytes, size / len(items))
            del page, items
            if not token:
                break
            fit = int(self.options.page_bytes // max(pod_bytes, 1.0))
            limit = max(1, min(fit, self.options.page_size))
        added, removed = self.inventory.replace_views(views, resource_version)
        self.metrics.relists.inc(reason=reason)
        self.last_error = ""
        log(
            logging.INFO,
            "listed pods",
            node=self.node,
            reason=reason,
            pods=len(views),
            added=added,
            removed=removed,
            resourceVersion=resource_version,
            seconds=round(time.monotonic() - started, 4),
        )

    def _list_page(self, token: str | None, limit: int) -> tuple[dict[str, Any], int]:
        """One page, and its size in bytes."""
        started = time.monotonic()
        code = "error"
        try:
            query = [("fieldSelector", self.selector), ("limit", str(limit))]
            if token:
                query.append(("continue", token))
            response = self._get(query, (self.options.connect_timeout, self.options.read_timeout))
            try:
                data = response.data
                code = str(response.status)
            finally:
                response.release_conn()
        except Exception as exc:
            status = _status_of(exc)
            code = str(status) if status else "error"
            self.metrics.request_errors.inc(verb="list", error=_error_name(exc))
            if status == 410:
                # An expired continue token: start the list again from the beginning.
                raise Gone(str(exc)) from exc
            raise
        finally:
            self.metrics.request_latency.observe(time.monotonic() - started, verb="list", code=code)
        page: dict[str, Any] = json.loads(data)
        return page, len(data)

    # ------------------------------------------------------------------ watch

    def _watch(self) -> str:
        """One watch from the resume point; returns why it ended normally."""
        timeout = int(self.options.watch_timeout * (1.0 + self._jitter()))
        timeout = max(timeout, 1)
        started = time.monotonic()
        code = "error"
        try:
            query = [
                ("fieldSelector", self.selector),
                ("watch", "true"),
                ("allowWatchBookmarks", "true"),
                ("resourceVersion", self.inventory.resource_version),
                ("timeoutSeconds", str(timeout)),
            ]
            read_timeout = timeout + self.options.read_timeout
            idle = self.options.watch_idle_timeout
            if idle > 0:
                # A per-read socket timeout: a stream silent for this long raises at once.
                read_timeout = min(read_timeout, idle)
            response = self._get(query, (self.options.connect_timeout, read_timeout))
            code = str(response.status)
        except Exception as exc:
            status = _status_of(exc)
            code = str(status) if status else "error"
            self.metrics.request_errors.inc(verb="watch", error=_error_name(exc))
            if status == 410:
                raise Gone(str(exc)) from exc
            raise
        finally:
            self.metrics.request_latency.observe(
                time.monotonic() - started, verb="watch", code=code
            )
        with self._lock:
            self._response = response
        if self._stop.is_set():
            self._interrupt(response)
        events = 0
        try:
            for line in _iter_lines(response, self.options.watch_idle_timeout):
                self._handle(json.loads(line))
                events += 1
                if events == 1:
                    # The stream works: the next failure starts the backoff afresh.
                    self.failures = 0
                    self.gone_streak = 0
        except Exception as exc:
            if not isinstance(exc, Gone | WatchError):
                self.metrics.request_errors.inc(verb="watch", error=_error_name(exc))
            raise
        finally:
            with self._lock:
                self._response = None
            response.release_conn()
        if self._stop.is_set():
            return "stopped"
        elapsed = time.monotonic() - started
        if elapsed < timeout - 1:
            # Closed early without an error event: a dropped connection or a server stop.
            # Count it as a failure so a flapping server is retried with backoff.
            raise ConnectionError(f"watch closed by the server after {elapsed:.1f}s")
        self.failures = 0
        self.gone_streak = 0
        return "expired"

    def _handle(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        obj = event.get("object") or {}
        self.metrics.events.inc(type=kind or "UNKNOWN")
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.inventory.apply(kind, obj)
        elif kind == "BOOKMARK":
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.inventory.bookmark(str(rv))
        elif kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise Gone(str(obj.get("message", "410 Gone")))
            raise WatchError(f"watch error {code}: {obj.get('message', obj)}")
