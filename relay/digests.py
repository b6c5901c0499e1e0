"""Digests: matches collected per rule and channel, sent as one message per schedule. Pure.

A digest rule names a cron expression and a time zone. Each match is filed under the window
it falls in, named by the window's end (the next scheduled time after the match). When a
window's end has passed, its items become one Message; the delivery's idempotency key names
rule, channel and window, so a window is sent once, also after a restart, and a relay that
was down at the scheduled minute catches up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from relay.models import Message, Phase, Snapshot, Transition
from relay.redaction import NOTE
from relay.render.default import ERROR_LIMIT, FIELD_LIMIT
from relay.render.escape import one_line, truncate
from relay.render.output import inline_video_bytes, video_url

MAX_ROWS = 200  # runs listed in one digest's table; the rest are counted ("… and N more")


@dataclass(frozen=True)
class DigestSpec:
    cron: str
    tz: str = "UTC"
    send_empty: bool = False

    def window_end(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after `moment` (aware UTC)."""
        local = moment.astimezone(ZoneInfo(self.tz))
        nxt: datetime = croniter(self.cron, local).get_next(datetime)
        return nxt.astimezone(UTC)

    def window_start(self, end: datetime) -> datetime:
        local = end.astimezone(ZoneInfo(self.tz))
        prev: datetime = croniter(self.cron, local).get_prev(datetime)
        return prev.astimezone(UTC)

    def last_end(self, now: datetime) -> datetime:
        """The most recent scheduled time at or before `now`."""
        return self.window_start(now + timedelta(microseconds=1))


@dataclass(frozen=True)
class DigestItem:
    rule: str
    channel: str
    window_end: datetime
    source: str
    run_id: str
    task: str
    status: str
    phase: Phase
    finished_at: datetime | None
    duration_ms: int | None
    outcome: str  # the video link, an inline video note, the error, or ""
    link: str | None
    redacted: bool = False  # the run's data had secrets masked (relay/redaction.py)
    video_url: str | None = None  # absent from items stored before it existed


def item_for(
    rule: str, channel: str, spec: DigestSpec, transition: Transition, run: Snapshot, *, redacted: bool
) -> DigestItem:
    return DigestItem(
        rule=rule,
        channel=channel,
        window_end=spec.window_end(transition.observed_at),
        source=run.source,
        run_id=run.run_id,
        task=run.task,
        status=run.status,
        phase=run.phase,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        outcome=_outcome(run),
        link=run.url,
        redacted=redacted,
        video_url=video_url(run.output),
    )


def _outcome(run: Snapshot) -> str:
    if url := video_url(run.output):
        return url
    if (inline := inline_video_bytes(run.output)) is not None:
        return f"inline video, {inline} bytes"
    if run.error:
        return truncate(
            f"{run.error.name + ': ' if run.error.name else ''}{run.error.message}", ERROR_LIMIT // 5
        )
    return ""


def digest_message(rule: str, spec: DigestSpec, end: datetime, items: Sequence[DigestItem]) -> Message:
    zone = ZoneInfo(spec.tz)
    start = spec.window_start(end)
    when = f"{start.astimezone(zone):%a %d %b %H:%M} – {end.astimezone(zone):%a %d %b %H:%M} {spec.tz}"
    counts = Counter(i.phase.value for i in items)
    summary = ", ".join(f"{n} {phase}" for phase, n in sorted(counts.items())) or "nothing ran"
    title = f"Digest {rule}: {summary}"
    header: tuple[str, ...] = ("Task", "Status", "Finished", "Duration", "Video or error")
    grouped = _by_task(items)
    ordered = [i for task in sorted(grouped) for i in grouped[task]]
    shown = ordered[:MAX_ROWS]
    rows = [header, *(_row(i, zone) for i in shown)] if items else []
    body = f"{len(items)} runs, {when}" if items else f"No runs matched, {when}"
    if any(i.redacted for i in items):
        body += f"\n{NOTE}"
    severity = "failure" if any(i.phase.problem for i in items) else "success" if items else "info"
    return Message(
        title,
        body,
        severity,
        rows=tuple(rows),
        row_links=tuple(i.video_url for i in shown),
        more=len(ordered) - len(shown),
    )


def _by_task(items: Sequence[DigestItem]) -> dict[str, list[DigestItem]]:
    grouped: dict[str, list[DigestItem]] = defaultdict(list)
    for item in items:
        grouped[item.task].append(item)
    for runs in grouped.values():
        runs.sort(key=lambda i: i.finished_at or i.window_end)
    return grouped


def _row(i: DigestItem, zone: ZoneInfo) -> tuple[str, ...]:
    finished = f"{i.finished_at.astimezone(zone):%d %b %H:%M}" if i.finished_at else ""
    duration = f"{i.duration_ms / 1000:.0f}s" if i.duration_ms else ""
    # a video is linked by the row's link (row_links), never from the outcome's text
    task, status = one_line(i.task, FIELD_LIMIT), one_line(i.status, FIELD_LIMIT)
    return (task, status, finished, duration, "video" if i.video_url else i.outcome)
