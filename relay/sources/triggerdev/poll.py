"""What Trigger.dev plugs into the shared poll cycle (relay.sources.reconcile), docs/platforms.md 2.

One cycle, every `poll_every`:

1. re-check by id (GET /api/v3/runs/{runId}: status, output, error) every run the store holds
   as in flight, a bounded number per cycle, least recently re-checked first (first: lists
   are costly, runs in flight are not);
2. complete by id, once, the runs a webhook recorded as finished (an alert carries no output,
   duration or cost): the stored record is refreshed, no second notification;
3. when a sweep is due (every `sweep_every`) or one is unfinished, discover new runs with
   GET /api/v1/runs, `filter[createdAt][from]` and the `page[after]` cursor, at most
   `max_pages` pages per cycle. Trigger.dev's docs say list calls scan the whole window and
   count against the rate limit, so sweeps are rarer than re-checks and incremental: the first
   sweep of a process covers `sweep_window` (longer than the longest run, so every run in
   flight is found after a restart), later ones start a margin before the previous one.
   Runs already stored are left to the re-checks.

A cycle costs one request per list page and one per run re-checked or completed
(`PollReport.requests`; downloads of offloaded outputs are not API requests).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from relay.clock import Clock
from relay.config import SourceConfig
from relay.errors import RateLimited, SourceError
from relay.models import Snapshot, Via
from relay.sources.base import Ingest
from relay.sources.health import HealthBoard
from relay.sources.parsing import short, text
from relay.sources.reconcile import MIN_WAIT, Cycle, Page, Platform, Reconciler
from relay.sources.triggerdev.client import RunPage, TriggerClient
from relay.sources.triggerdev.options import TriggerOptions, run_url_template
from relay.sources.triggerdev.parse import parse_retrieved
from relay.store.base import Store

log = logging.getLogger("relay.sources.triggerdev")
COMPLETED_REMEMBERED = 4096  # run ids whose completed output was fetched, least recent out

SWEEP_OVERLAP = 600.0  # a later sweep starts this long before the previous one started
PAGE_SIZES = (10, 100)  # page[size] as the OpenAPI document allows it
MAX_PAGES_PER_CYCLE = 5
MAX_PAGES_PER_SWEEP = 100  # a server handing out new cursors forever ends here
MAX_RECHECKS = 100  # by-id re-checks per cycle
MAX_COMPLETIONS = 20  # by-id completions of pushed runs per cycle
COMPLETION_TRIES = 3


@dataclass
class _Sweep:
    created_from: datetime
    started_at: datetime
    cursor: str | None = None
    pages: int = 0
    cursors: set[str] = field(default_factory=set)


class TriggerPlatform(Platform):
    recheck_first = True
    lists_known_runs = False

    def __init__(
        self,
        config: SourceConfig,
        client: TriggerClient,
        store: Store,
        clock: Clock,
        options: TriggerOptions,
        max_pages: int,
    ) -> None:
        self._config, self._client, self._store, self._clock = config, client, store, clock
        self._options, self._max_pages = options, max_pages
        self._run_url = run_url_template(config)
        self._page_size = min(max(config.limit, PAGE_SIZES[0]), PAGE_SIZES[1])
        self._sweep: _Sweep | None = None
        self._last_sweep: datetime | None = None  # when the last complete sweep started
        self._completed: OrderedDict[str, int] = OrderedDict()  # pushed run id -> tries

    @property
    def requests(self) -> int:
        return self._client.requests

    # -- by id -----------------------------------------------------------------------------

    async def fetch(self, run: Snapshot) -> Snapshot | None:
        """By id, with an offloaded output downloaded when the run is finished. None on 404."""
        raw = await self._client.get_run(run.run_id)
        if raw is None:
            return None
        snapshot = self._parse(raw)
        url = raw.get("outputPresignedUrl")
        if not snapshot.terminal or snapshot.output is not None or not text(url):
            return snapshot
        try:
            return replace(snapshot, output=await self._client.fetch_output(str(url)))
        except SourceError as exc:
            log.warning("poll_output_failed source=%s run=%s reason=%s", self._config.name, run.run_id, exc)
            return snapshot

    def needs_detail(self, snapshot: Snapshot, listed: bool) -> bool:
        return listed and snapshot.terminal

    async def detail(self, snapshot: Snapshot) -> Snapshot | None:
        detailed = await self.fetch(snapshot)
        return detailed if detailed is not None and detailed.terminal else None

    async def before_list(self, cycle: Cycle) -> None:
        """By id, once, the recent runs a webhook recorded as finished: output, error detail,
        duration and cost. Same phase, so the pipeline refreshes the record and notifies nobody."""
        horizon = self._clock.now() - timedelta(seconds=self._options.sweep_window)
        done = 0
        for state in await self._store.runs(self._config.name, limit=MAX_RECHECKS):
            pushed = state.snapshot
            if pushed.via is not Via.WEBHOOK or not pushed.terminal or pushed.updated_at < horizon:
                continue
            if self._completed.get(pushed.run_id, 0) >= COMPLETION_TRIES or done >= MAX_COMPLETIONS:
                continue
            done += 1
            if (completed := await self._complete(pushed)) is not None:
                cycle.report.fetched_by_id += 1
                await cycle.ingest(completed)

    async def _complete(self, pushed: Snapshot) -> Snapshot | None:
        run_id = pushed.run_id
        self._completed[run_id] = self._completed.get(run_id, 0) + 1
        self._completed.move_to_end(run_id)
        while len(self._completed) > COMPLETED_REMEMBERED:
            self._completed.popitem(last=False)
        try:
            snapshot = await self.fetch(pushed)
        except RateLimited:
            self._completed[run_id] -= 1  # not a try: asked to wait
            raise
        except SourceError as exc:
            log.warning("poll_complete_failed source=%s run=%s reason=%s", self._config.name, run_id, exc)
            return None
        if snapshot is None or not snapshot.terminal:  # gone, or the API not caught up yet
            return None
        self._completed[run_id] = COMPLETION_TRIES
        return replace(snapshot, url=snapshot.url or pushed.url)

    # -- the sweep ---------------------------------------------------------------------------

    async def pages(self, cycle: Cycle) -> AsyncGenerator[Page, None]:
        """Up to `max_pages` pages of the current sweep (a new one if none is unfinished)."""
        if self._sweep is None and not self._sweep_due():
            return
        sweep = self._sweep = self._sweep or self._new_sweep()
        try:
            for _ in range(self._max_pages):
                page = await self._client.list_runs(sweep.created_from, self._page_size, sweep.cursor)
                sweep.pages += 1
                yield Page(page.items, self._parse)
                if self._sweep_ends(sweep, page):
                    self._last_sweep, self._sweep = sweep.started_at, None
                    return
                sweep.cursor = page.next
        except RateLimited:
            raise  # the sweep resumes at the same page next cycle
        except SourceError:
            self._sweep = None  # a cursor the server rejects must not stick: start over
            raise
        log.info("sweep_continues source=%s pages=%d", self._config.name, sweep.pages)

    def _sweep_due(self) -> bool:
        if self._last_sweep is None:
            return True
        every = max(self._options.sweep_every, self._config.poll_every)
        return self._clock.now() >= self._last_sweep + timedelta(seconds=every)

    def _new_sweep(self) -> _Sweep:
        now = self._clock.now()
        start = now - timedelta(seconds=self._options.sweep_window)
        if self._last_sweep is not None:
            start = max(start, self._last_sweep - timedelta(seconds=SWEEP_OVERLAP))
        return _Sweep(created_from=start, started_at=now)

    def _sweep_ends(self, sweep: _Sweep, page: RunPage) -> bool:
        if page.next is None or not page.items:
            return True
        if page.next in sweep.cursors or page.next == sweep.cursor:
            log.warning(
                "sweep_cursor_repeated source=%s cursor=%s pages=%d (sweep ended)",
                self._config.name,
                short(page.next),
                sweep.pages,
            )
            return True
        if sweep.pages >= MAX_PAGES_PER_SWEEP:
            log.warning("sweep_too_long source=%s pages=%d (sweep ended)", self._config.name, sweep.pages)
            return True
        sweep.cursors.add(page.next)
        return False

    def _parse(self, item: object) -> Snapshot:
        return parse_retrieved(item, source=self._config.name, run_url=self._run_url)


class TriggerPoller(Reconciler):
    """Polls one Trigger.dev source (see the module docstring) into `ingest`."""

    def described(self) -> str:
        options = self._options
        return f" sweep_every={options.sweep_every:g}s sweep_window={options.sweep_window:g}s"

    def __init__(
        self,
        config: SourceConfig,
        client: TriggerClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        options: TriggerOptions | None = None,
        max_rechecks: int = MAX_RECHECKS,
        max_pages: int = MAX_PAGES_PER_CYCLE,
        min_wait: float = MIN_WAIT,
        health: HealthBoard | None = None,
    ) -> None:
        options = self._options = options or TriggerOptions.of(config)
        platform = TriggerPlatform(config, client, store, clock, options, max_pages)
        super().__init__(
            config,
            platform,
            store,
            ingest,
            clock,
            max_rechecks=max_rechecks,
            health=health,
            min_wait=min_wait,
        )
