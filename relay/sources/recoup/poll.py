"""What Recoup plugs into the shared poll cycle (relay.sources.reconcile).

Recoup sends no webhooks of its own, so the poller is the main way in. One cycle:

1. list the account's recent runs: legacy status names, no `output` or `error`, only runs
   that have started, newest `limit` of the last 7 days, no cursor;
2. detail: fetch by id (`?runId=`: new status names, with output and error) every listed
   run that has just become terminal, so the notification can carry the video URL or error;
3. re-check by id the runs held as active that are no longer in the listed window;
4. with `schedules: true`, the scheduled tasks: missed runs and tasks switched off.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import timedelta

from relay.clock import Clock
from relay.config import SourceConfig
from relay.durations import parse_duration
from relay.errors import SourceError
from relay.models import Snapshot, Via
from relay.sources.base import Ingest
from relay.sources.health import HealthBoard
from relay.sources.reconcile import NOT_FOUND, Cycle, Page, Platform, Reconciler
from relay.sources.recoup import schedules
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.parse import parse_run
from relay.store.base import Store

log = logging.getLogger("relay.sources.recoup")

MAX_RECHECKS = 50  # by-id re-checks per cycle: a large backlog must not hammer the API


class RecoupPlatform(Platform):
    def __init__(self, config: SourceConfig, client: RecoupClient, clock: Clock) -> None:
        self._config, self._client, self._clock = config, client, clock

    @property
    def requests(self) -> int:
        return self._client.requests

    async def pages(self, cycle: Cycle) -> AsyncGenerator[Page, None]:
        yield Page(await self._client.list_runs(self._config.limit, self._account()), self._parse)

    async def fetch(self, run: Snapshot) -> Snapshot | None:
        raw = await self._client.get_run(run.run_id)
        return None if raw is None else self._parse(raw)

    def needs_detail(self, snapshot: Snapshot, listed: bool) -> bool:
        return listed and snapshot.terminal

    async def detail(self, snapshot: Snapshot) -> Snapshot | None:
        """The by-id snapshot; None (keep the listed one) while the endpoints disagree."""
        detailed = await self.fetch(snapshot)
        if detailed is None:
            raise SourceError(NOT_FOUND)
        if not detailed.terminal:  # the endpoints disagree for a moment: trust the later news
            log.info(
                "poll_fetch_behind source=%s run=%s list=%s by_id=%s",
                self._config.name,
                snapshot.run_id,
                snapshot.status,
                detailed.status,
            )
            return None
        return detailed

    async def after_list(self, cycle: Cycle) -> None:
        """Missed scheduled runs and tasks switched off (see schedules)."""
        if not self._config.options.get("schedules"):
            return
        name, now = self._config.name, self._clock.now()
        grace = timedelta(seconds=parse_duration(self._config.options.get("schedule_grace", "10m")))
        for item in await self._client.list_tasks(self._account()):
            try:
                task = schedules.parse_task(item)
            except (SourceError, ValueError) as exc:
                cycle.report.invalid += 1
                log.warning("schedule_item_invalid source=%s reason=%s", name, exc)
                continue
            await cycle.ingest(schedules.task_state(task, source=name, now=now))
            for missed in schedules.missed_runs(
                task, source=name, now=now, watching_since=cycle.watching_since, grace=grace
            ):
                log.info(
                    "schedule_missed source=%s task=%s slot=%s",
                    name,
                    task.title,
                    missed.metadata["scheduled_for"],
                )
                await cycle.ingest(missed)

    def _account(self) -> str | None:
        return self._config.options.get("account_id")

    def _parse(self, item: object) -> Snapshot:
        return parse_run(item, source=self._config.name, via=Via.POLL, run_url=self._config.run_url)


class RecoupPoller(Reconciler):
    """Polls one Recoup source and hands snapshots to `ingest` (Pipeline.ingest)."""

    def __init__(
        self,
        config: SourceConfig,
        client: RecoupClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        max_rechecks: int = MAX_RECHECKS,
        health: HealthBoard | None = None,
    ) -> None:
        platform = RecoupPlatform(config, client, clock)
        super().__init__(config, platform, store, ingest, clock, max_rechecks=max_rechecks, health=health)
