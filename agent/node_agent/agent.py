"""The agent: inventory, pod sync, endpoints and the output file, wired and stoppable.

Independent of how credentials were obtained: ``__main__`` builds the session from the
downward API (or a kubeconfig), tests and the demo build it from the embedded API server, and
all of them run this same object.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from .endpoints import Endpoints, HealthState
from .inventory import Inventory
from .logs import log
from .metrics import Metrics
from .output import FileWriter, check_writable
from .projection import LabelPolicy
from .sync import PodSync, SyncOptions

__all__ = ["Agent"]


class Agent:
    """Mirror the Pods of ``node`` into memory, ``/pods`` and (optionally) a file.

    ``api_client`` is a session's ``api_client`` (it impersonates ``system:node:<node>``);
    ``listen`` is the bind address of the endpoints (port 0 picks a free one);
    ``metrics_listen`` an optional second address serving only ``/metrics``, ``/healthz`` and
    ``/readyz``, for scraping without exposing the inventory; ``output`` the file to keep
    current, or None (its directory is created; ``ValueError`` if it cannot be written);
    ``labels`` which labels of each Pod are kept (default: up to 16 KiB of them).
    """

    def __init__(
        self,
        api_client: Any,
        node: str,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 9102),
        metrics_listen: tuple[str, int] | None = None,
        output: Path | None = None,
        options: SyncOptions | None = None,
        labels: LabelPolicy | None = None,
    ) -> None:
        self.node = node
        self.inventory = Inventory(node, labels)
        self.metrics = Metrics(
            pods_known=lambda: float(len(self.inventory)),
            ready=lambda: 1.0 if self.inventory.synced else 0.0,
            watching=lambda: 1.0 if self.sync.watching else 0.0,
            labels_omitted=lambda: float(self.inventory.labels_omitted()),
        )
        self.sync = PodSync(api_client, node, self.inventory, self.metrics, options)
        health = HealthState(
            alive=lambda: self.sync.alive,
            ready=lambda: self.inventory.synced,
            detail=self._detail,
        )
        self.endpoints = Endpoints(listen, self.inventory, self.metrics, health)
        self.metrics_endpoints = (
            Endpoints(
                metrics_listen,
                self.inventory,
                self.metrics,
                health,
                paths=("/metrics", "/healthz", "/readyz"),
            )
            if metrics_listen is not None
            else None
        )
        self.writer = None
        if output is not None:
            problem = check_writable(output)
            if problem is not None:
                raise ValueError(f"output {str(output)!r}: {problem}")
            self.writer = FileWriter(self.inventory, output, self.metrics)
        self._stopped = threading.Event()

    def _detail(self) -> str:
        if self.sync.last_error:
            return f"node {self.node}: {self.sync.last_error[:300]}"
        return f"node {self.node}: no error so far"

    @property
    def url(self) -> str:
        """Base URL of the endpoints, e.g. ``http://127.0.0.1:9102``."""
        return self.endpoints.url

    def start(self) -> Agent:
        """Serve the endpoints first (probes answer at once), then start syncing."""
        self.endpoints.start()
        if self.metrics_endpoints is not None:
            self.metrics_endpoints.start()
        if self.writer is not None:
            self.writer.start()
        self.sync.start()
        log(
            logging.INFO,
            "agent started",
            node=self.node,
            listen=self.url,
            metricsListen=self.metrics_endpoints.url if self.metrics_endpoints else None,
            output=str(self.writer.path) if self.writer else None,
            maxLabelBytes=self.inventory.labels.max_bytes,
            labelKeys=list(self.inventory.labels.keys) or None,
        )
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Block until the first complete list was applied, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = self.inventory.version
        while not self.inventory.synced:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            seen = self.inventory.wait_changed(seen, min(remaining, 0.5))
        return True

    def stop(self) -> None:
        """Stop the watch, write the file one last time, close the endpoints (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        started = time.monotonic()
        self.sync.stop(timeout=2.5)
        if self.writer is not None:
            self.writer.stop()
        self.endpoints.stop()
        if self.metrics_endpoints is not None:
            self.metrics_endpoints.stop()
        log(
            logging.INFO,
            "agent stopped",
            node=self.node,
            pods=len(self.inventory),
            resourceVersion=self.inventory.resource_version,
            seconds=round(time.monotonic() - started, 3),
        )

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
