"""The watch fan-out measurement both server benchmarks share.

Opens ``watchers`` watches on one pod name, waits until every one is open, creates that pod
and times how long the last watcher takes to hear of it: what a fleet of agents costs a server
when one object changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def fan_out(
    http: Any,
    url: str,
    rv: str,
    watchers: int,
    trigger: dict[str, Any],
    rss_mb: Callable[[], float],
) -> tuple[float, float]:
    """``(seconds from the create to the last watcher notified, server RSS MB while
    watching)``. ``http`` is an ``aiohttp.ClientSession`` authenticated as an admin; the watches
    are on namespace ``bench``, for the name of ``trigger`` (a Pod manifest), from ``rv``."""
    import aiohttp

    name = trigger["metadata"]["name"]
    received: list[float] = []
    ready = 0

    async def watch() -> None:
        nonlocal ready
        async with http.get(
            f"{url}/api/v1/namespaces/bench/pods",
            params={
                "watch": "1",
                "resourceVersion": rv,
                "timeoutSeconds": "60",
                "fieldSelector": f"metadata.name={name}",
            },
            timeout=aiohttp.ClientTimeout(total=90),
        ) as resp:
            if resp.status != 200:
                raise SystemExit(f"{url}: watch answered {resp.status}")
            ready += 1
            await resp.content.readline()
            received.append(time.perf_counter())

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    deadline = time.monotonic() + 60
    while ready < watchers:
        if time.monotonic() > deadline or any(t.done() for t in tasks):
            for task in tasks:
                task.cancel()
            raise SystemExit(f"{url}: only {ready} of {watchers} watches opened")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    rss = rss_mb()
    sent = time.perf_counter()
    async with http.post(f"{url}/api/v1/namespaces/bench/pods", json=trigger) as resp:
        if resp.status != 201:
            raise SystemExit(f"{url}: trigger: {resp.status} {await resp.text()}")
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return max(received) - sent, rss
