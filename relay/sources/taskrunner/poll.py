"""What RunWisp plugs into the shared poll cycle (relay.sources.reconcile), and its stream.

One reconciliation pass (`poll_once`, every `poll_every`): GET /api/tasks/{task}/runs
(newest first) for each name in `tasks`, GET /api/runs when none is set. A further page is
read only while the page was full, held no run already stored as finished and none created
before the relay first watched the source (history is not paged through), at most MAX_PAGES
pages. Runs stored as active but not listed are then re-checked by id, unless every list
failed. A run that turns terminal in a problem phase, when it is news, gets the tail of its
log first (`log_lines`; detail), from whichever path brought it: list, re-check or stream.

With `stream: true` the run stream (stream.py) pushes snapshots through the same engine;
when a reconnect leaves a gap its replay cannot cover, it asks for a pass at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from functools import partial

from relay.clock import Clock
from relay.config import SourceConfig
from relay.errors import RateLimited, SourceError
from relay.models import Snapshot, Via
from relay.sources.base import Ingest, PollReport
from relay.sources.health import HealthBoard
from relay.sources.reconcile import Cycle, Page, Platform, Reconciler, guarded_cycle, stopped_within
from relay.sources.taskrunner.client import TaskRunnerClient
from relay.sources.taskrunner.logs import with_log
from relay.sources.taskrunner.options import TaskRunnerOptions
from relay.sources.taskrunner.parse import parse_event, parse_run
from relay.sources.taskrunner.sse import SseEvent
from relay.sources.taskrunner.stream import MAX_RECONNECT, MIN_RECONNECT, StreamFollower
from relay.store.base import Store

log = logging.getLogger("relay.sources.taskrunner")

MAX_PAGES = 5  # list pages per task per pass
MAX_RECHECKS = 50


class TaskRunnerPlatform(Platform):
    def __init__(
        self, config: SourceConfig, client: TaskRunnerClient, options: TaskRunnerOptions, max_pages: int
    ) -> None:
        self._config, self._client, self._options, self._max_pages = config, client, options, max_pages
        self.errors: list[str] = []  # why lists failed this pass

    @property
    def requests(self) -> int:
        return self._client.requests

    async def pages(self, cycle: Cycle) -> AsyncGenerator[Page, None]:
        self.errors = []
        tasks: Sequence[str | None] = self._options.tasks or (None,)
        for task in tasks:
            try:
                async for page in self._task_pages(task, cycle):
                    yield page
            except RateLimited:
                raise
            except SourceError as exc:
                self.errors.append(str(exc))
        if len(self.errors) == len(tasks):  # RunWisp did not answer: no use asking about each run
            raise SourceError("; ".join(self.errors))

    async def _task_pages(self, task: str | None, cycle: Cycle) -> AsyncGenerator[Page, None]:
        limit, offset = self._config.limit, 0
        for _ in range(self._max_pages):
            items, total = await self._client.list_runs(task, limit=limit, offset=offset)
            offset += len(items)
            page = Page(items, partial(self._parse, task=task), f" task={task or '*'}")
            yield page
            created = [s.created_at or s.updated_at for s in page.snapshots]
            more = len(items) >= limit and (total is None or offset < total)
            if page.stored_terminal or not more or not created or min(created) < cycle.watching_since:
                return

    async def after_list(self, cycle: Cycle) -> None:
        if self.errors:  # some task's list failed: the pass did not see everything
            raise SourceError("; ".join(self.errors))

    async def fetch(self, run: Snapshot) -> Snapshot | None:
        task = self._task_of(run)
        raw = await self._client.get_run(task, run.run_id)
        return None if raw is None else self._parse(raw, task)

    def needs_detail(self, snapshot: Snapshot, listed: bool) -> bool:
        return snapshot.phase.problem and self._options.log_lines > 0

    async def detail(self, snapshot: Snapshot) -> Snapshot | None:
        try:
            lines = await self._client.log_lines(
                self._task_of(snapshot), snapshot.run_id, self._options.log_lines
            )
        except SourceError as exc:  # a 429 too: the transition must not wait for a log
            log.warning(
                "log_fetch_failed source=%s run=%s reason=%s", self._config.name, snapshot.run_id, exc
            )
            return None
        return with_log(snapshot, lines)

    def _task_of(self, run: Snapshot) -> str:
        return str(run.metadata.get("task_name") or run.task)

    def _parse(self, item: object, task: str | None) -> Snapshot:
        return parse_run(
            item,
            source=self._config.name,
            via=Via.POLL,
            task=task,
            external_url=self._options.external_url,
            run_url=self._config.run_url,
        )


class TaskRunnerPoller(Reconciler):
    """One RunWisp source: the stream when `stream: true`, reconciliation passes always.
    Every snapshot, from either path, goes through the engine's `handle`, one run at a time,
    so a failure seen by the stream and by a list at once makes one transition."""

    def __init__(
        self,
        config: SourceConfig,
        client: TaskRunnerClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        options: TaskRunnerOptions | None = None,
        max_pages: int = MAX_PAGES,
        max_rechecks: int = MAX_RECHECKS,
        reconnect_min: float = MIN_RECONNECT,
        reconnect_max: float = MAX_RECONNECT,
        health: HealthBoard | None = None,
    ) -> None:
        self.options = options or TaskRunnerOptions.of(config)
        platform = TaskRunnerPlatform(config, client, self.options, max_pages)
        super().__init__(config, platform, store, ingest, clock, max_rechecks=max_rechecks, health=health)
        self._client = client
        self._wake = asyncio.Event()  # a stream gap its replay cannot cover asks for a pass now
        self.stream: StreamFollower | None = None
        if self.options.stream:
            self.stream = StreamFollower(
                client.stream,
                on_event=self.handle_event,
                on_gap=self._on_gap,
                name=config.name,
                min_delay=reconnect_min,
                max_delay=reconnect_max,
            )

    def described(self) -> str:
        return f" stream={'on' if self.stream else 'off'}"

    async def loop(self, stop: asyncio.Event) -> None:
        loops = [self._reconcile_loop(stop)]
        if self.stream is not None:
            loops.append(self.stream.run(stop))
        await asyncio.gather(*loops)

    async def close(self) -> None:
        """A Unix-socket connection the client opened."""
        await self._client.aclose()

    async def handle_event(self, event: SseEvent) -> None:
        """One stream event: a run event becomes a snapshot and is ingested."""
        snapshot = parse_event(
            event, source=self.name, external_url=self.options.external_url, run_url=self._config.run_url
        )
        if snapshot is None or (self.options.tasks and snapshot.task not in self.options.tasks):
            return
        await self.handle(snapshot, PollReport())

    async def _on_gap(self) -> None:
        self._wake.set()

    async def _reconcile_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            delay, failures = await guarded_cycle(
                self.name, self.poll_once, stop, failures, every=self._config.poll_every
            )
            # after a good pass a stream gap may ask for the next one early
            wakeable = failures == 0 and delay == self._config.poll_every
            if delay is None or await self._pause(stop, delay, wakeable):
                break

    async def _pause(self, stop: asyncio.Event, delay: float, wakeable: bool) -> bool:
        """Wait `delay` (less if the stream asks for a pass); True once stopped."""
        if not wakeable:
            return await stopped_within(stop, delay)
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        return stop.is_set()
