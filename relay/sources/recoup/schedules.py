"""Recoup scheduled tasks (GET /api/tasks): missed runs and tasks switched off. Pure.

A task carries a cron `schedule`, `enabled`, and its `recent_runs` (the last 5). Two kinds of
news come out of it, as snapshots the pipeline treats like any run's:

- a **missed run**: a scheduled time passed (plus a grace period) and no run of the task was
  created near it. Its run id is `missed:<task id>:<scheduled time>`, status MISSED, phase
  missed (terminal): seen twice, it is the same run, so it notifies once;
- the **task's own state**: run id `task:<task id>`, status ENABLED (phase running) or
  DISABLED (phase waiting), so switching a task off is a transition a rule can match with
  `{status: DISABLED, from_status: ENABLED}`.

Only scheduled times after the relay started watching count (history is not news), and only
times the recent runs can vouch for: with 5 runs listed, an occurrence older than the
oldest of them says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from relay.errors import SourceError
from relay.models import Phase, Snapshot, Via

RECENT_RUNS = 5  # what GET /api/tasks lists per task
STATUSES = frozenset({"MISSED", "ENABLED", "DISABLED"})  # the statuses of its snapshots
MAX_OCCURRENCES = 50  # per task and check: a per-minute schedule must not explode a check
EARLY = timedelta(minutes=1)  # a run created this much before its slot still counts


@dataclass(frozen=True)
class ScheduledTask:
    id: str
    title: str
    schedule: str
    enabled: bool
    timezone: str
    run_created: tuple[datetime, ...]
    details: dict[str, Any]  # owner_email, artist_account_id, account_id, trigger_schedule_id


def parse_task(obj: object) -> ScheduledTask:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise SourceError("task: not an object with an id")
    created = []
    for run in obj.get("recent_runs") or []:
        stamp = run.get("createdAt") if isinstance(run, dict) else None
        if isinstance(stamp, str):
            created.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    details = {
        k: obj.get(k) for k in ("owner_email", "artist_account_id", "account_id", "trigger_schedule_id")
    }
    return ScheduledTask(
        id=obj["id"],
        title=str(obj.get("title") or obj["id"]),
        schedule=str(obj.get("schedule") or ""),
        enabled=obj.get("enabled") is not False,  # null: the docs call it nullable; treat as on
        timezone=str(obj.get("timezone") or "UTC"),
        run_created=tuple(sorted(created)),
        details={k: v for k, v in details.items() if v},
    )


def missed_runs(
    task: ScheduledTask, *, source: str, now: datetime, watching_since: datetime, grace: timedelta
) -> list[Snapshot]:
    if not task.enabled or not croniter.is_valid(task.schedule):
        return []
    start = watching_since
    if len(task.run_created) >= RECENT_RUNS:
        start = max(start, task.run_created[0])
    slots = _slots(task, start, now - grace)
    unused = list(task.run_created)
    missed: list[Snapshot] = []
    for slot, following in zip(slots, slots[1:], strict=False):
        # a run may start a little early, but never so early that it belongs to the slot before
        early = min(EARLY, (following - slot) / 2)
        if not _take_run(unused, slot - early, min(slot + grace, following - early)):
            missed.append(_missed(task, slot, source, grace))
    return missed


def _take_run(unused: list[datetime], start: datetime, end: datetime) -> bool:
    """Use up the first run created in [start, end): each run vouches for one slot only."""
    for index, created in enumerate(unused):
        if start <= created < end:
            del unused[: index + 1]
            return True
    return False


def task_state(task: ScheduledTask, *, source: str, now: datetime) -> Snapshot:
    status, phase = ("ENABLED", Phase.RUNNING) if task.enabled else ("DISABLED", Phase.WAITING)
    return Snapshot(
        source=source,
        run_id=f"task:{task.id}",
        task=task.title,
        status=status,
        phase=phase,
        updated_at=now,
        via=Via.POLL,
        metadata=_metadata(task),
    )


def _slots(task: ScheduledTask, after: datetime, until: datetime) -> list[datetime]:
    """Scheduled times in [after, until), plus the one that follows (it bounds the last)."""
    try:
        zone = ZoneInfo(task.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    it = croniter(task.schedule, after.astimezone(zone) - timedelta(seconds=1))
    slots: list[datetime] = []
    while len(slots) <= MAX_OCCURRENCES:
        slot: datetime = it.get_next(datetime)
        slots.append(slot)
        if slot >= until:
            break
    return slots


def _missed(task: ScheduledTask, slot: datetime, source: str, grace: timedelta) -> Snapshot:
    stamp = slot.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Snapshot(
        source=source,
        run_id=f"missed:{task.id}:{stamp}",
        task=task.title,
        status="MISSED",
        phase=Phase.MISSED,
        updated_at=slot + grace,
        via=Via.POLL,
        finished_at=slot + grace,
        metadata={**_metadata(task), "scheduled_for": stamp},
    )


def _metadata(task: ScheduledTask) -> dict[str, Any]:
    return {"task_id": task.id, "schedule": task.schedule, "timezone": task.timezone, **task.details}
