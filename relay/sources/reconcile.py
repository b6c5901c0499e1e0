"""The poll cycle every platform shares, and the loop that repeats it.

One cycle (`Reconciler.poll_once`):

1. when the relay started watching the source (the store's `watching_since`, which survives
   restarts): a run never seen that finished before is history, recorded without detail;
2. list: the platform's pages of recent runs, each item parsed (an item that is no usable
   run is counted and logged, never fatal); a run stored as finished is skipped (terminal is
   absorbing), and so is every stored run when the platform's list cannot be trusted for
   progress (`lists_known_runs = False`: those go by id);
3. detail: a listed run that is news and that the platform says lacks detail (output, error,
   a log's tail) is completed by the platform, a few at once (sources.concurrency); a detail
   that cannot be had never holds the transition back; then each is ingested in list order;
4. re-check by id the runs the store holds as active that the list did not cover, at most
   `max_rechecks` a cycle, least recently re-checked first, so a larger backlog rotates;
5. the health board hears how the cycle went (/admin/sources, /readyz, relay_source_*).

Steps 2 and 4 swap when the platform asks (`recheck_first`: Trigger.dev, whose lists are
costly); then a cycle in which every re-check failed fails. A platform plugs in only what is
its own (`Platform`): its pages, a fetch by id, a detail, and hooks before and after the
list (Trigger.dev's completions of pushed runs, Recoup's schedules).

The loop (`poll_forever`): a cycle, a pause, backoff while the platform fails, its own pause
when it rate-limits us, and a stop that ends a wait or a cycle in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from relay.clock import Clock
from relay.config import SourceConfig
from relay.errors import RateLimited, SourceError
from relay.models import RunState, Snapshot, Via
from relay.sources.base import Ingest, PollReport
from relay.sources.concurrency import RunLock, bounded
from relay.sources.health import HealthBoard
from relay.store.base import Store

log = logging.getLogger("relay.sources")
T = TypeVar("T")

MIN_WAIT = 1.0  # seconds: the shortest pause between two cycles, whatever the API says
MAX_BACKOFF = 600.0  # seconds between cycles while a platform keeps failing
NOT_FOUND = "not found (HTTP 404)"


@dataclass
class Page:
    """One list answer: raw items and how to read one. The engine fills in what it found,
    so the platform can decide whether the next page is worth asking for."""

    items: list[object]
    parse: Callable[[object], Snapshot]
    label: str = ""  # logged with an invalid item, e.g. " task=backup"
    snapshots: list[Snapshot] = field(default_factory=list)
    stored_terminal: bool = False  # some listed run was already stored as finished


@dataclass
class Cycle:
    report: PollReport
    watching_since: datetime
    number: int
    ingest: Callable[[Snapshot], Awaitable[None]]  # counted in the report


class Platform:
    """What one platform plugs into the cycle. The defaults: no list, nothing by id."""

    recheck_first = False
    lists_known_runs = True

    @property
    def requests(self) -> int:
        """API requests sent so far (the client's count)."""
        return 0

    def pages(self, cycle: Cycle) -> AsyncGenerator[Page, None]:
        return _no_pages()

    async def fetch(self, run: Snapshot) -> Snapshot | None:
        """The run by id (parsed), None when the platform no longer knows it."""
        return None

    def needs_detail(self, snapshot: Snapshot, listed: bool) -> bool:
        return False

    async def detail(self, snapshot: Snapshot) -> Snapshot | None:
        """The snapshot completed, or None to keep it as it is."""
        return None

    async def before_list(self, cycle: Cycle) -> None:
        return None

    async def after_list(self, cycle: Cycle) -> None:
        return None


async def _no_pages() -> AsyncGenerator[Page, None]:
    return
    yield  # an async generator that yields nothing


class Reconciler:
    """Polls one source through its `Platform` into `ingest` (Pipeline.ingest)."""

    def __init__(
        self,
        config: SourceConfig,
        platform: Platform,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        max_rechecks: int,
        health: HealthBoard | None = None,
        min_wait: float = MIN_WAIT,
    ) -> None:
        self._config, self._platform, self._store = config, platform, store
        self._ingest, self._clock, self._max_rechecks = ingest, clock, max_rechecks
        self._health = health or HealthBoard()
        self._min_wait = min_wait
        self._watching_since: datetime | None = None
        self._cycle = 0
        self._rechecked_in: dict[str, int] = {}  # run id -> cycle of its last re-check
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def name(self) -> str:
        return self._config.name

    async def poll_once(self) -> PollReport:
        """One cycle. Raises RateLimited or SourceError when the cycle could not be done."""
        report, before = PollReport(), self._platform.requests
        try:
            await self._poll(report)
        except Exception as exc:
            self._health.poll_outcome(self.name, self._clock.now(), exc)
            raise
        finally:
            report.requests = self._platform.requests - before
        self._health.poll_outcome(self.name, self._clock.now())
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set. Never raises: failures are logged and retried later.
        Setting `stop` ends a wait at once and abandons a cycle in flight (snapshots already
        ingested stay stored; the rest is picked up by the next start)."""
        log.info("poller_started source=%s every=%gs%s", self.name, self._config.poll_every, self.described())
        try:
            await self.loop(stop)
        finally:
            await self.close()
            log.info("poller_stopped source=%s", self.name)

    async def loop(self, stop: asyncio.Event) -> None:
        await poll_forever(
            self.name, self.poll_once, stop, every=self._config.poll_every, min_wait=self._min_wait
        )

    def described(self) -> str:
        """What the start-up log line adds about this poller."""
        return ""

    async def close(self) -> None:
        """Lets go of what the poller opened itself."""

    async def handle(self, snapshot: Snapshot, report: PollReport | None = None) -> RunState | None:
        """One snapshot from any path (a pushed stream event, a re-check): ingested unless
        the run is stored as finished, completed first when it is news that lacks detail.
        Returns the run's state before it."""
        report = report or PollReport()
        async with self._lock(snapshot.run_id):
            state = (await self._store.known_runs(self.name, [snapshot.run_id])).get(snapshot.run_id)
            if state is not None and state.snapshot.terminal:
                return state  # terminal is absorbing: nothing later can be a transition
            await self._ingest_one(await self._detailed(snapshot, state, False, report), report)
            return state

    # -- one cycle ---------------------------------------------------------------------------

    async def _poll(self, report: PollReport) -> None:
        if self._watching_since is None:
            self._watching_since = await self._store.watching_since(self.name, self._clock.now())
        self._cycle += 1
        cycle = Cycle(report, self._watching_since, self._cycle, lambda s: self._ingest_one(s, report))
        if self._platform.recheck_first:
            failed = await self._recheck(set(), report)
            if failed and len(failed) == report.rechecked:
                raise SourceError(f"every by-id re-check failed ({len(failed)}); the last: {failed[-1]}")
            await self._platform.before_list(cycle)
            await self._list(cycle, set())
        else:
            await self._platform.before_list(cycle)
            covered: set[str] = set()
            await self._list(cycle, covered)
            await self._recheck(covered, report)
        await self._platform.after_list(cycle)

    async def _list(self, cycle: Cycle, covered: set[str]) -> None:
        async with contextlib.aclosing(self._platform.pages(cycle)) as pages:
            async for page in pages:
                cycle.report.listed += len(page.items)
                page.snapshots = self._parse_page(page, cycle.report)
                await self._take(page, covered, cycle.report)

    def _parse_page(self, page: Page, report: PollReport) -> list[Snapshot]:
        snapshots: list[Snapshot] = []
        for index, item in enumerate(page.items):
            try:
                snapshots.append(page.parse(item))
            except SourceError as exc:
                report.invalid += 1
                log.warning(
                    "poll_item_invalid source=%s%s index=%d reason=%s", self.name, page.label, index, exc
                )
        return snapshots

    async def _take(self, page: Page, covered: set[str], report: PollReport) -> None:
        fresh = list({s.run_id: s for s in page.snapshots if s.run_id not in covered}.values())
        known = await self._store.known_runs(self.name, [s.run_id for s in fresh])
        page.stored_terminal = any(state.snapshot.terminal for state in known.values())
        wanted = [s for s in fresh if self._wanted(known.get(s.run_id))]
        covered.update(s.run_id for s in fresh if self._platform.lists_known_runs or s.run_id not in known)
        jobs = [partial(self._detailed, s, known.get(s.run_id), True, report) for s in wanted]
        # those before a failure go in (the rest waits for the next cycle), side by side so
        # they join one group commit, and oldest first: the runs about to leave a list that
        # shows only the newest are written first, and a task's last outcome is its newest run's
        ready: list[Snapshot] = []
        for result in await bounded(jobs):
            if isinstance(result, BaseException):
                await self._ingest_all(ready, report)
                raise result
            ready.append(result)
        await self._ingest_all(ready, report)

    async def _ingest_all(self, snapshots: list[Snapshot], report: PollReport) -> None:
        """One transaction for the lot, with every run's lock held (taken in one order, so
        two batches never wait for each other in a circle). If the lot fails, each goes in on
        its own: one bad snapshot must not hold back the rest of its page for good."""
        if not snapshots:
            return
        snapshots.sort(key=_age)
        async with contextlib.AsyncExitStack() as locks:
            for run_id in sorted({s.run_id for s in snapshots}):
                await locks.enter_async_context(self._lock(run_id))
            try:
                await self._ingest(snapshots)
            except Exception:
                if len(snapshots) == 1:
                    raise
                await self._one_by_one(snapshots, report)
                return
        report.ingested += len(snapshots)

    async def _one_by_one(self, snapshots: list[Snapshot], report: PollReport) -> None:
        """Raises the first failure once every snapshot was tried."""
        failures: list[Exception] = []
        for snapshot in snapshots:
            try:
                await self._ingest([snapshot])
                report.ingested += 1
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    def _wanted(self, state: RunState | None) -> bool:
        if state is None:
            return True
        return self._platform.lists_known_runs and not state.snapshot.terminal

    async def _detailed(
        self, snapshot: Snapshot, state: RunState | None, listed: bool, report: PollReport
    ) -> Snapshot:
        """The snapshot completed by the platform when it is news that lacks detail. A 429
        propagates (the run stays as stored, so the next cycle tries again); any other
        failure is logged and the snapshot goes in as it is."""
        if not (self._platform.needs_detail(snapshot, listed) and self._is_news(snapshot, state)):
            return snapshot
        try:
            detailed = await self._platform.detail(snapshot)
        except RateLimited:
            raise
        except SourceError as exc:
            log.warning("poll_fetch_failed source=%s run=%s reason=%s", self.name, snapshot.run_id, exc)
            return snapshot
        if detailed is None:
            return snapshot
        report.fetched_by_id += 1
        return detailed

    def _is_news(self, snapshot: Snapshot, state: RunState | None) -> bool:
        since = self._watching_since
        if state is not None or snapshot.via is Via.WEBHOOK or since is None:
            return True
        return (snapshot.finished_at or snapshot.updated_at) >= since

    async def _recheck(self, covered: set[str], report: PollReport) -> list[str]:
        """By id, the active runs the list did not cover. Returns why each failed one failed."""
        due = await self._due_rechecks(covered)
        results = await bounded(partial(self._recheck_one, s.snapshot, report) for s in due)
        # a 429 first: the runs it held back keep their turn for the next cycle
        errors = sorted((r for r in results if isinstance(r, BaseException)), key=_not_rate_limited)
        if errors:
            raise errors[0]
        return [r for r in results if isinstance(r, str)]

    async def _due_rechecks(self, covered: set[str]) -> list[RunState]:
        """Least recently re-checked first, then oldest update first, so a backlog larger
        than the bound still rotates through every run."""
        states = [s for s in await self._store.active_runs(self.name) if s.snapshot.run_id not in covered]
        active = {s.snapshot.run_id for s in states}
        self._rechecked_in = {k: v for k, v in self._rechecked_in.items() if k in active}
        states.sort(key=lambda s: (self._rechecked_in.get(s.snapshot.run_id, 0), s.snapshot.updated_at))
        return states[: self._max_rechecks]

    async def _recheck_one(self, known: Snapshot, report: PollReport) -> str | None:
        """The reason it failed (a 404 is no failure: the run is left as it is), or None. A
        request held back by a rate limit is no re-check: the run keeps its turn."""
        reason: str | None = None
        try:
            snapshot = await self._platform.fetch(known)
        except RateLimited:
            raise
        except SourceError as exc:
            snapshot, reason = None, str(exc)
        self._rechecked_in[known.run_id] = self._cycle
        report.rechecked += 1
        if snapshot is not None:
            await self.handle(snapshot, report)
            return None
        log.warning(
            "poll_recheck_failed source=%s run=%s reason=%s", self.name, known.run_id, reason or NOT_FOUND
        )
        return reason

    async def _ingest_one(self, snapshot: Snapshot, report: PollReport) -> None:
        await self._ingest([snapshot])
        report.ingested += 1

    def _lock(self, run_id: str) -> RunLock:
        return RunLock(self._locks, run_id)


def _not_rate_limited(error: BaseException) -> bool:
    return not isinstance(error, RateLimited)


def _age(snapshot: Snapshot) -> datetime:
    return snapshot.updated_at


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
