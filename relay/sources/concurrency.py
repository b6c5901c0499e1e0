"""Bounded concurrency for the poll cycle: detail requests in flight at once, and one
snapshot of a run at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from relay.errors import RateLimited

T = TypeVar("T")
DETAIL_CONCURRENCY = 8  # requests in flight at once, per source


class RunLock:
    """One run's snapshots go in one at a time (a stream event and a list seeing the same
    failure fetch its detail once); the lock is dropped once nobody holds or waits for it."""

    def __init__(self, locks: dict[str, asyncio.Lock], run_id: str) -> None:
        self._locks, self._run_id = locks, run_id
        self._held = locks.setdefault(run_id, asyncio.Lock())

    async def __aenter__(self) -> None:
        await self._held.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._held.release()
        if not self._held.locked() and self._locks.get(self._run_id) is self._held:
            self._locks.pop(self._run_id, None)


class _Skipped(Exception):
    """A job not started because an earlier one was rate limited."""


async def bounded(
    jobs: Iterable[Callable[[], Awaitable[T]]], limit: int = DETAIL_CONCURRENCY
) -> list[T | BaseException]:
    """Every job's result (or what it raised) in order, at most `limit` running at once.
    After a RateLimited no further job starts; those in flight finish."""
    gate, halted = asyncio.Semaphore(limit), asyncio.Event()

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            if halted.is_set():
                raise _Skipped
            try:
                return await job()
            except RateLimited:
                halted.set()
                raise

    return list(await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True))
