"""What each page shows, read from the running relay and shaped for its template."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from relay.config.matching import Matcher
from relay.config.schema import Rule
from relay.console.render import seconds
from relay.models import Attempt, Backlog, Delivery, DeliveryStatus, RunState, Snapshot, Transition
from relay.redaction import redact_run
from relay.render.output import safe_output
from relay.service import Relay
from relay.silences import new_silence

SCAN = 1000  # rows a filtered list reads (newest first) before it filters them
SHOWN = 100  # rows a list shows
RECENT_FAILURES = 10


@dataclass(frozen=True)
class SourceRow:
    name: str
    kind: str
    enabled: bool
    polling: bool
    leader: str | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    failures: int
    lag: float | None


@dataclass(frozen=True)
class RunRef:
    """The run a delivery is about, from its stored payload (digests have none)."""

    source: str
    run_id: str
    task: str


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    run: RunRef | None


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: list[Attempt]


@dataclass(frozen=True)
class Step:
    """One transition of a run's timeline and what it caused."""

    transition: Transition
    deliveries: list[DeliveryDetail] = field(default_factory=list)


async def sources(relay: Relay) -> list[SourceRow]:
    status, leaders, now = relay.source_status(), await relay.leaders(), relay.clock.now()
    rows = []
    for name, shown in status.items():
        h = relay.sources.health.of(name)
        lag = (now - h.last_success_at).total_seconds() if h.last_success_at else None
        rows.append(
            SourceRow(
                name,
                shown["kind"],
                shown["enabled"],
                shown["polling"],
                leaders.get(name),
                h.last_success_at,
                h.last_error_at,
                h.last_error,
                h.consecutive_failures,
                lag,
            )
        )
    return rows


async def channels(relay: Relay) -> list[Backlog]:
    """Every configured channel's backlog (zeros included), and any other channel the store
    still holds deliveries for (one removed from rules.yaml)."""
    found = {b.channel: b for b in await relay.store.backlog()}
    names = sorted(set(relay.ruleset.channels) | set(found))
    return [found.get(n) or Backlog(n, 0, 0, 0, None) for n in names]


def run_ref(d: Delivery) -> RunRef | None:
    run = d.payload.get("run") if isinstance(d.payload, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("id"), str):
        return None
    return RunRef(str(run.get("source", "")), run["id"], str(run.get("task", "")))


def delivery_rows(found: list[Delivery]) -> list[DeliveryRow]:
    return [DeliveryRow(d, run_ref(d)) for d in found]


async def recent_failures(relay: Relay) -> list[DeliveryRow]:
    return delivery_rows(await relay.store.deliveries(DeliveryStatus.DEAD, RECENT_FAILURES))


async def filtered_deliveries(
    relay: Relay, status: DeliveryStatus | None, channel: str, limit: int = SHOWN
) -> list[Delivery]:
    found = await relay.store.deliveries(status, SCAN)
    return [d for d in found if not channel or d.channel == channel][:limit]


SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
PREVIEW_WINDOW = timedelta(days=1)


def run_matches(state: RunState, task: str, status: str) -> bool:
    """task: a glob (or a part of the name); status: the platform's status or the phase."""
    s = state.snapshot
    if task:
        pattern = task.lower() if any(c in task for c in "*?[") else f"*{task.lower()}*"
        if not fnmatchcase(s.task.lower(), pattern):
            return False
    return not status or status.lower() in (s.status.lower(), s.phase.value)


async def runs(relay: Relay, source: str, task: str, status: str, since: str = "") -> list[RunState]:
    """since: "1h", "24h", "7d" (updated that recently) or "" (any time)."""
    found = await relay.store.runs(source or None, SCAN)
    cut = relay.clock.now() - SINCE[since] if since in SINCE else None
    return [
        s for s in found if run_matches(s, task, status) and (cut is None or s.snapshot.updated_at >= cut)
    ][:SHOWN]


def facts(d: Delivery) -> dict[str, str] | None:
    """What a silence matches a delivery on (relay.dispatch does the same at planning time),
    from its stored payload; None for a digest."""
    run = d.payload.get("run") if isinstance(d.payload, dict) else None
    if not isinstance(run, dict):
        return None
    shown = {k: str(run.get(k, "")) for k in ("source", "task", "status", "phase")}
    return shown | {"rule": d.rule, "channel": d.channel}


async def would_mute(relay: Relay, matchers: dict[str, str]) -> list[DeliveryRow]:
    """The notifications of the last 24 hours a silence with these matchers would have muted
    (ValueError: matchers no silence could have)."""
    now = relay.clock.now()
    probe = new_silence(matchers, now - PREVIEW_WINDOW, now + timedelta(seconds=1))
    found = await relay.store.deliveries(None, SCAN)
    hit = [
        d
        for d in found
        if d.created_at >= now - PREVIEW_WINDOW
        and (f := facts(d)) is not None
        and probe.mutes(f, d.created_at)
    ]
    return delivery_rows(hit)


def shown_run(relay: Relay, snapshot: Snapshot) -> Snapshot:
    """The run as its messages show it: secrets masked, inline data: values left out."""
    masked, _ = redact_run(snapshot, relay.ruleset.redaction)
    return masked


def output_text(snapshot: Snapshot) -> str | None:
    output = safe_output(snapshot.output)
    return json.dumps(output, indent=2, ensure_ascii=False, default=str) if output else None


async def timeline(relay: Relay, source: str, run_id: str) -> list[Step]:
    steps = []
    for t in await relay.store.run_transitions(source, run_id):
        details = [
            DeliveryDetail(d, await relay.store.attempts(d.id))
            for d in await relay.store.transition_deliveries(t.id)
        ]
        steps.append(Step(t, details))
    return steps


def payload_text(d: Delivery) -> str:
    return json.dumps(d.payload, indent=2, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Bar:
    """One time bucket of the overview's chart: transitions seen, deliveries made by status."""

    start: datetime
    end: datetime
    transitions: int
    sent: int
    dead: int
    other: int  # pending, sending, silenced

    @property
    def deliveries(self) -> int:
        return self.sent + self.dead + self.other


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]

    @property
    def peak(self) -> int:
        return max([1, *(max(b.transitions, b.deliveries) for b in self.bars)])

    def total(self, name: str) -> int:
        return sum(int(getattr(b, name)) for b in self.bars)


async def activity(relay: Relay, title: str, span: timedelta, bucket: timedelta) -> Chart:
    """The last `span` in buckets of `bucket`, oldest first, the last one ending now."""
    count = int(span / bucket)
    since = relay.clock.now() - span
    per: dict[int, dict[str, int]] = {}
    for n, kind, value in await relay.store.activity(since, bucket.total_seconds()):
        per.setdefault(min(n, count - 1), {})[kind] = value
    bars = []
    for n in range(count):
        got = per.get(n, {})
        sent, dead = got.get("sent", 0), got.get("dead", 0)
        other = sum(v for k, v in got.items() if k not in ("transitions", "sent", "dead"))
        start = since + n * bucket
        bars.append(Bar(start, start + bucket, got.get("transitions", 0), sent, dead, other))
    return Chart(title, bars)


@dataclass(frozen=True)
class RuleRow:
    """One loaded rule: where it is, what it matches, where it sends, and its last day."""

    rule: Rule
    conditions: list[tuple[str, str]]
    options: list[str]
    counts: dict[str, int]  # delivery status -> deliveries of the last 24 h

    @property
    def matched(self) -> int:
        return sum(self.counts.values())


def conditions(matcher: Matcher) -> list[tuple[str, str]]:
    """The `match:` conditions that are set, as text (none: the rule matches every transition)."""
    shown = []
    for f in fields(matcher):
        value = getattr(matcher, f.name)
        if value is None or value == ():
            continue
        if isinstance(value, frozenset | tuple):
            parts = sorted(
                "unknown" if v is None else "=".join(v) if isinstance(v, tuple) else str(v) for v in value
            )
            value = ", ".join(parts)
        shown.append((f.name, str(value).lower() if isinstance(value, bool) else str(value)))
    return shown


def options(rule: Rule) -> list[str]:
    found = [f"first_seen: {rule.first_seen}"]
    if rule.digest is not None:
        found.append("digest")
    if rule.group_window:
        found.append(f"group_window: {seconds(rule.group_window)}")
    if rule.once_per is not None:
        found.append(f"once_per: {seconds(rule.once_per.period)}")
    if rule.stuck_after:
        found.append(f"stuck_after: {seconds(rule.stuck_after)}")
    if rule.template is not None:
        found.append("template")
    if rule.quiet_hours is not None:
        found.append(f"quiet_hours: {rule.quiet_hours.describe()}")
    if rule.urgent is not None:
        found.append("urgent")
    return found


async def rules(relay: Relay) -> tuple[list[RuleRow], bool]:
    """Every loaded rule with its deliveries of the last 24 hours (read from the SCAN newest
    deliveries: True when that cap was reached, so the counts may be short)."""
    cut = relay.clock.now() - PREVIEW_WINDOW
    found = await relay.store.deliveries(None, SCAN)
    counts: dict[str, Counter[str]] = {}
    for d in found:
        if d.created_at >= cut:
            counts.setdefault(d.rule, Counter())[d.status.value] += 1
    rows = [
        RuleRow(r, conditions(r.matcher), options(r), dict(counts.get(r.name, {})))
        for r in relay.ruleset.rules
    ]
    return rows, len(found) >= SCAN
