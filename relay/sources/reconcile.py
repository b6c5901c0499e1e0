"""The loop every poller runs: a cycle, a pause, backoff while the platform fails, its own
pause when it rate-limits us, and a stop that ends a wait or a cycle in flight at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from relay.errors import RateLimited, SourceError
from relay.sources.base import PollReport

log = logging.getLogger("relay.sources")
T = TypeVar("T")

MIN_WAIT = 1.0  # seconds: the shortest pause between two cycles, whatever the API says
MAX_BACKOFF = 600.0  # seconds between cycles while a platform keeps failing


async def poll_forever(
    name: str,
    poll_once: Callable[[], Coroutine[Any, Any, PollReport]],
    stop: asyncio.Event,
    *,
    every: float,
    min_wait: float = MIN_WAIT,
) -> None:
    """Cycle until `stop` is set. Never raises: failures are logged and retried later."""
    failures = 0
    while not stop.is_set():
        delay, failures = await guarded_cycle(name, poll_once, stop, failures, every=every, min_wait=min_wait)
        if delay is None or await stopped_within(stop, delay):
            break


async def guarded_cycle(
    name: str,
    poll_once: Callable[[], Coroutine[Any, Any, PollReport]],
    stop: asyncio.Event,
    failures: int,
    *,
    every: float,
    min_wait: float = MIN_WAIT,
) -> tuple[float | None, int]:
    """(seconds until the next cycle, or None once stopped; failures in a row)."""
    try:
        report = await unless_stopped(poll_once(), stop)
    except RateLimited as exc:
        log.warning("poll_rate_limited source=%s retry_after=%gs", name, exc.retry_after)
        # a zero or missing pause must not turn into a tight loop against the API
        return max(exc.retry_after, min_wait), failures
    except SourceError as exc:
        delay = backoff(every, failures + 1)
        log.warning("poll_failed source=%s reason=%s retry_in=%gs", name, exc, delay)
        return delay, failures + 1
    except Exception as exc:  # a bug must not end polling: log it loudly and go on
        delay = backoff(every, failures + 1)
        log.error(
            "poll_failed source=%s reason=unexpected %s: %s retry_in=%gs",
            name,
            type(exc).__name__,
            exc,
            delay,
            exc_info=True,
        )
        return delay, failures + 1
    if report is None:
        return None, failures
    log.debug("poll_completed source=%s %s requests=%d", name, report.summary(), report.requests)
    return every, 0


def backoff(every: float, failures: int) -> float:
    return float(min(every * 2.0 ** min(failures, 20), MAX_BACKOFF))


async def stopped_within(stop: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """The work's result, or None if `stop` was set first (the work is then cancelled)."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopper):
            pending.cancel()  # no-op for the one that finished
        await asyncio.gather(task, stopper, return_exceptions=True)
    return None if task.cancelled() else task.result()
