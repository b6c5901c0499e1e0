"""Calls that arrive together become one: concurrent webhooks, each with one run, are decided
and written as one batch (`Store.record_many`), one transaction and one set of statements for
all of them instead of one each. They would have waited for the same commit anyway: a call
made while a batch is being written joins the next one, and an idle relay adds no wait.

A batch that fails is tried again call by call, so one caller's bad update (a decision that
raises) fails that caller alone, as it would have on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Call = tuple[Sequence[T], "asyncio.Future[list[R]]"]  # a caller's items and where its results go

MAX_ITEMS = 1_000  # per batch: bounds how long one transaction holds the store


class Coalescer(Generic[T, R]):
    """`await coalescer(items)` -> `run(items)`'s results for those items, in their order;
    `run` is given the items of every call waiting, in the order the calls were made. At most
    `parallel` batches are written at once (1 for SQLite's one writer; a PostgreSQL pool can
    commit several side by side)."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], parallel: int = 1) -> None:
        self._run, self._parallel = run, parallel
        self._waiting: list[Call[T, R]] = []
        self._flushers = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, items: Sequence[T]) -> list[R]:
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._flushers < self._parallel:
            self._flushers += 1
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)  # a task nobody refers to may be collected mid-flight
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                calls = self._take()
                try:
                    await self._write(calls)
                except BaseException:  # cancelled (the loop is going away): so are the callers
                    for _, future in calls + self._waiting:
                        future.cancel()
                    raise
        finally:
            self._flushers -= 1

    async def _write(self, calls: list[Call[T, R]]) -> None:
        try:
            results = await self._run([item for items, _ in calls for item in items])
        except Exception as exc:
            await self._one_by_one(calls, exc)
            return
        _answer(calls, results)

    def _take(self) -> list[Call[T, R]]:
        taken, size = 0, 0
        while taken < len(self._waiting) and (taken == 0 or size + len(self._waiting[taken][0]) <= MAX_ITEMS):
            size += len(self._waiting[taken][0])
            taken += 1
        calls, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return calls

    async def _one_by_one(self, calls: list[Call[T, R]], exc: Exception) -> None:
        if len(calls) == 1:
            _settle(calls[0][1], exc)
            return
        for items, future in calls:
            try:
                _settle(future, await self._run(list(items)))
            except Exception as alone:
                _settle(future, alone)


def _answer(calls: list[Call[T, R]], results: list[R]) -> None:
    at = 0
    for items, future in calls:
        _settle(future, results[at : at + len(items)])
        at += len(items)


def _settle(future: asyncio.Future[list[R]], outcome: list[R] | Exception) -> None:
    if future.done():  # its caller was cancelled; what it asked for was written all the same
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
