"""Following RunWisp's run stream for ever: reconnects with backoff, and the replay's
sequence check (`replay_gap`). The events themselves are decoded by sse.py.

`StreamFollower` owns the reconnection policy and the replay's sequence check; what a
connection is (URL, headers, status checks) is the `Connect` callable it is given, so
RunWisp's paths stay in its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from relay.errors import RateLimited, SourceError
from relay.sources.reconcile import stopped_within
from relay.sources.taskrunner.sse import SseDecoder, SseEvent, sse_events

log = logging.getLogger("relay.sources.taskrunner")

MIN_RECONNECT = 1.0  # seconds before the first reconnect; doubles per failed attempt
MAX_RECONNECT = 60.0
SETTLE = 0.5  # seconds without an event after which a reconnect's replay counts as read

# (last event id or None) -> an open stream's lines; raises SourceError if it cannot connect
Connect = Callable[[str | None], AbstractAsyncContextManager[AsyncIterable[str]]]


def replay_gap(sent: str | None, first: str | None) -> str | None:
    """Why a reconnect's replay cannot cover what was missed, or None when it can: the first
    new id must follow the one sent. RunWisp's ids are an in-memory counter, so ids lower
    than the one sent mean it restarted (and holds nothing from before)."""
    if sent is None:
        return "no event id to resume from"
    if first is None or not (sent.isdigit() and first.isdigit()):
        return f"event ids {sent!r} and {first!r} are not a counter"
    if int(first) <= int(sent):
        return f"event ids restarted lower ({first} after {sent}): the platform restarted"
    if int(first) > int(sent) + 1:
        return f"events {int(sent) + 1}..{int(first) - 1} were not replayed"
    return None


class StreamFollower:
    """Keeps one stream open until `stop`: reconnects with exponential backoff (a server's
    `retry:` hint raises the floor, a 429's Retry-After sets the pause) and resends the last
    event id, so a server that keeps history replays what was missed. The replay is read
    first: only when it cannot cover the gap (`replay_gap`) is `on_gap` called, and then once
    the replay has been read (no event for `settle` seconds), so the reconciliation it asks
    for cannot make the replayed events stale; with no id to resend (a first connect, a
    stream without ids) at once. A gap is owed until `on_gap` has been called, across
    reconnects. `on_event` failures are logged and do not drop the connection."""

    def __init__(
        self,
        connect: Connect,
        *,
        on_event: Callable[[SseEvent], Awaitable[None]],
        on_gap: Callable[[], Awaitable[None]],
        name: str,
        min_delay: float = MIN_RECONNECT,
        max_delay: float = MAX_RECONNECT,
        settle: float = SETTLE,
    ) -> None:
        self._connect, self._on_event, self._on_gap = connect, on_event, on_gap
        self._name, self._min, self._max, self._settle = name, min_delay, max_delay, settle
        self.last_event_id: str | None = None
        self.connections = 0  # successful connects, for tests and health
        self._gap: str | None = None  # why a reconciliation is owed, until it is asked for

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            delay, failures = await self._attempt(stop, failures)
            if await stopped_within(stop, delay):
                break
        log.info("stream_stopped source=%s", self._name)

    async def _attempt(self, stop: asyncio.Event, failures: int) -> tuple[float, int]:
        """One connection, start to end: (seconds before the next, consecutive failures)."""
        received = asyncio.Event()
        work = asyncio.create_task(self._consume(received))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait((work, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, stopper):
                task.cancel()
            await asyncio.gather(work, stopper, return_exceptions=True)
        if not work.cancelled() and (exc := work.exception()) is not None:
            return self._after_failure(exc, failures + 1, received.is_set())
        if received.is_set():  # a clean end after traffic: the server closed; come back soon
            log.info("stream_ended source=%s reconnect_in=%gs", self._name, self._min)
            return self._min, 0
        delay = self._backoff(failures + 1)
        log.warning("stream_ended source=%s reason=no events reconnect_in=%gs", self._name, delay)
        return delay, failures + 1

    async def _consume(self, received: asyncio.Event) -> None:
        sent = self.last_event_id
        decoder = SseDecoder()
        decoder.last_event_id = sent
        async with self._connect(sent) as lines:
            self.connections += 1
            log.info("stream_connected source=%s last_event_id=%s", self._name, sent)
            if sent is None:
                self._gap = replay_gap(None, None)
                await self._ask_for_pass()
            activity = asyncio.Event()
            settler = asyncio.create_task(self._after_replay(activity))
            try:
                await self._read(lines, decoder, sent, received, activity)
            finally:
                settler.cancel()
                await asyncio.gather(settler, return_exceptions=True)

    async def _read(
        self,
        lines: AsyncIterable[str],
        decoder: SseDecoder,
        sent: str | None,
        received: asyncio.Event,
        activity: asyncio.Event,
    ) -> None:
        checked = sent is None  # the first new id is checked against the one sent
        async with contextlib.aclosing(sse_events(lines, decoder)) as events:
            async for event in events:
                received.set()
                activity.set()
                if not checked and event.id is not None and event.id != sent:
                    checked = True
                    self._gap = replay_gap(sent, event.id) or self._gap
                if event.retry is not None:
                    self._min = min(max(self._min, event.retry), self._max)
                await self._dispatch(event)
                self.last_event_id = event.id  # once handled: a replay re-sends it otherwise

    async def _after_replay(self, activity: asyncio.Event) -> None:
        """Asks for the reconciliation owed once the stream has been quiet for `settle`."""
        while True:
            activity.clear()
            try:
                await asyncio.wait_for(activity.wait(), self._settle)
            except TimeoutError:
                await self._ask_for_pass()
                await activity.wait()

    async def _ask_for_pass(self) -> None:
        if self._gap is None:
            return
        log.info("stream_gap source=%s reason=%s (reconciling)", self._name, self._gap)
        self._gap = None
        await self._on_gap()

    async def _dispatch(self, event: SseEvent) -> None:
        try:
            await self._on_event(event)
        except SourceError as exc:
            log.warning("stream_event_failed source=%s event=%s reason=%s", self._name, event.event, exc)
        except Exception as exc:  # a bug must not tear the stream down: log it loudly
            log.error(
                "stream_event_failed source=%s event=%s reason=unexpected %s: %s",
                self._name,
                event.event,
                type(exc).__name__,
                exc,
                exc_info=True,
            )

    def _after_failure(self, exc: BaseException, failures: int, received: bool) -> tuple[float, int]:
        if received:  # it worked for a while: a dropped connection is not a failing server
            failures = 1
        if isinstance(exc, RateLimited):
            delay = min(max(exc.retry_after, self._min), self._max * 10)
            log.warning("stream_rate_limited source=%s retry_after=%gs", self._name, delay)
            return delay, failures
        delay = self._backoff(failures)
        if isinstance(exc, SourceError):
            log.warning("stream_failed source=%s reason=%s reconnect_in=%gs", self._name, exc, delay)
        else:
            log.error(
                "stream_failed source=%s reason=unexpected %s: %s reconnect_in=%gs",
                self._name,
                type(exc).__name__,
                exc,
                delay,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        return delay, failures

    def _backoff(self, failures: int) -> float:
        return min(self._min * 2.0 ** min(failures - 1, 20), self._max)
