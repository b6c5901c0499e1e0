"""What the relay notices by the clock rather than by a snapshot: digest windows that
closed, and runs stuck in a phase too long; and the pruning job that keeps the store bounded
(rules.yaml `retention:`), once per `prune_every`. `tick` does one pass; `run` repeats it.

Both are idempotent by construction (a digest's key names its window, a stuck alert's key
names the run and rule), so ticks may overlap replicas or restarts without double sends. With
several replicas only the one holding the "job:scheduler" lease runs them (`leads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relay import observability as obs
from relay.clock import Clock
from relay.config import Rule, RuleSet
from relay.digests import DigestItem, DigestSpec, digest_key
from relay.dispatch import digest_delivery, plan_stuck
from relay.ids import IdFactory, new_id
from relay.links import RunLinks
from relay.models import Delivery
from relay.render.console_link import linked
from relay.store import Store
from relay.store.base import BuildDigest

log = logging.getLogger("relay.scheduler")

TICK_EVERY = 5.0  # seconds
CATCH_UP = 12  # the most empty digest windows one pass sends for a rule and channel
PRUNE_EVERY = 3600.0  # seconds between prunes: each deletes an hour's worth, in small batches


@dataclass
class TickReport:
    digests_sent: int = 0
    stuck_alerts: int = 0
    pruned: dict[str, int] | None = None  # table -> rows, when this pass pruned


@dataclass
class Scheduler:
    store: Store
    ruleset: RuleSet
    clock: Clock
    wakeup: asyncio.Event
    started_at: datetime | None = None
    template_errors: obs.TemplateErrors = field(default_factory=obs.TemplateErrors)
    ids: IdFactory = new_id  # of deliveries: planning draws none itself
    leads: Callable[[], bool] = lambda: True  # whether this process runs the jobs now
    prune_every: float = PRUNE_EVERY
    links: RunLinks | None = None  # RELAY_PUBLIC_URL set: stuck alerts link the run's console page
    _rules: dict[str, Rule] = field(default_factory=dict)
    _pruned_at: datetime | None = None

    def __post_init__(self) -> None:
        self.use(self.ruleset)
        self.started_at = self.started_at or self.clock.now()

    def use(self, ruleset: RuleSet) -> None:
        """A reloaded rules.yaml: the next pass reads it (a pass under way keeps the one it began with)."""
        self.ruleset, self._rules = ruleset, {r.name: r for r in ruleset.rules}

    async def run(self, stop: asyncio.Event, every: float = TICK_EVERY) -> None:
        while not stop.is_set():
            try:
                if self.leads():
                    await self.tick()
            except Exception:  # a bug here must not end digests for good
                log.exception("scheduler_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def tick(self) -> TickReport:
        now = self.clock.now()
        report = TickReport(await self._digests(now), await self._stuck(now))
        if report.digests_sent or report.stuck_alerts:
            self.wakeup.set()
        report.pruned = await self.prune_if_due(now)
        return report

    async def prune_if_due(self, now: datetime) -> dict[str, int] | None:
        """Prune when the last prune began `prune_every` ago (or never): a prune that fails is
        tried again an interval later, not on every pass."""
        if self._pruned_at is not None and (now - self._pruned_at).total_seconds() < self.prune_every:
            return None
        self._pruned_at = now
        return await self.prune(now)

    async def prune(self, now: datetime) -> dict[str, int]:
        """The pruning job: one replica at a time runs it (leader lease "job:prune"), though two
        at once would only delete the same rows. Counts go to relay_pruned_rows_total."""
        counts = await self.store.prune(self.ruleset.retention, now)
        obs.pruned(counts)
        if any(counts.values()):
            log.info("pruned %s", " ".join(f"{table}={n}" for table, n in counts.items() if n))
        return counts

    async def _digests(self, now: datetime) -> int:
        ruleset, rules = self.ruleset, self._rules
        windows = set(await self.store.due_digests(now))
        for rule in rules.values():
            if rule.digest and rule.digest.send_empty:
                windows |= await self._empty_due(rule.name, rule.digest, rule.notify, now)
        sent = 0
        for rule_name, channel, end in sorted(windows, key=lambda w: w[2]):
            found, config = rules.get(rule_name), ruleset.channels.get(channel)
            if found is None or config is None or not config.enabled:
                continue  # the items wait, in case a reload brings the rule or channel back
            build = _builder(found, channel, end, now, self.ids)
            if await self.store.take_digest(rule_name, channel, end, build):
                log.info(
                    "digest_enqueued rule=%s channel=%s window_end=%s", rule_name, channel, end.isoformat()
                )
                sent += 1
        return sent

    async def _empty_due(
        self, rule: str, spec: DigestSpec, channels: Sequence[str], now: datetime
    ) -> set[tuple[str, str, datetime]]:
        """The windows of a send_empty digest to take now, per channel: every one that ended
        since the last one sent, whichever process sent it, so a pass later than a window, a
        leader's handover or a restart skips none. With none sent yet, or more than CATCH_UP
        missed, only the latest, and only if it ended since this process started: a first
        start or a rule just added reports on no time before it, and a relay down for long
        sends no flood."""
        ends = spec.last_ends(now, CATCH_UP + 1)  # the missed ones and the last sent
        keys = {digest_key(rule, channel, end): (channel, end) for channel in channels for end in ends}
        sent = [keys[key] for key in await self.store.sent_keys(list(keys))]
        due: set[tuple[str, str, datetime]] = set()
        for channel in channels:
            last = max((end for ch, end in sent if ch == channel), default=None)
            if last is not None:
                due |= {(rule, channel, end) for end in ends if end > last}
            elif self.started_at and ends[0] >= self.started_at:
                due.add((rule, channel, ends[0]))
        return due

    async def _stuck(self, now: datetime) -> int:
        ruleset = self.ruleset
        rules = [r for r in ruleset.rules if r.stuck_after]
        if not rules:
            return 0
        alerts = 0
        for source in ruleset.sources:
            for state in await self.store.active_runs(source):
                for rule in rules:
                    planned = plan_stuck(state, rule, ruleset.channels, now=now, ids=self.ids)
                    if planned:
                        planned = planned[0], linked(planned[1], self.links, state.snapshot)
                    if planned and (written := await self.store.enqueue(*planned)):
                        self.template_errors.report(planned[1])
                        log.info(
                            "run_stuck source=%s run=%s rule=%s", source, state.snapshot.run_id, rule.name
                        )
                        alerts += written
        return alerts


def _builder(rule: Rule, channel: str, end: datetime, now: datetime, ids: IdFactory) -> BuildDigest:
    def build(items: list[DigestItem]) -> Delivery | None:
        return digest_delivery(rule, channel, end, items, now=now, ids=ids)

    return build
