"""A digest window's items as one Message: counts in the title, a table of runs by task. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from relay.digests import DigestItem, DigestSpec
from relay.models import Message, Snapshot, Transition
from relay.render.default import ERROR_LIMIT, FIELD_LIMIT, NOTE
from relay.render.escape import one_line, truncate
from relay.render.output import inline_video_bytes, video_url

MAX_ROWS = 200  # runs listed in one digest's table; the rest are counted ("… and N more")


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
