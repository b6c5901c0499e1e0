from datetime import UTC, datetime, timedelta

from relay.models import Phase
from relay.sources.recoup.schedules import missed_runs, parse_task, task_state

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def task(
    schedule: str = "0 9 * * *",
    *,
    runs: tuple[str, ...] = (),
    enabled: bool | None = True,
    tz: str | None = None,
) -> dict[str, object]:
    return {
        "id": "t1",
        "title": "Morning video",
        "schedule": schedule,
        "enabled": enabled,
        "timezone": tz,
        "owner_email": "a@b.c",
        "recent_runs": [{"id": f"r{i}", "createdAt": c} for i, c in enumerate(runs)],
    }


def missed(obj: dict[str, object], since: datetime = NOW - timedelta(days=1)) -> list[str]:
    found = missed_runs(parse_task(obj), source="recoup", now=NOW, watching_since=since, grace=GRACE)
    return [s.metadata["scheduled_for"] for s in found]


def test_a_slot_without_a_run_is_missed_once_the_grace_passed() -> None:
    assert missed(task()) == ["2026-11-25T09:00:00Z"]
    assert missed(task(runs=("2026-11-25T09:00:02Z",))) == []
    assert missed(task(runs=("2026-11-25T08:59:30Z",))) == []  # a little early still counts
    assert missed(task("20 9 * * *")) == []  # 09:20 + 10 min grace is not over yet


def test_history_before_watching_is_not_news() -> None:
    assert missed(task(), since=NOW - timedelta(minutes=20)) == []


def test_slots_older_than_the_recent_runs_say_nothing() -> None:
    runs = tuple(f"2026-11-25T09:0{i}:00Z" for i in range(5))  # 5 runs, the oldest at 09:00
    assert missed(task("* * * * *", runs=runs), since=NOW - timedelta(hours=1)) == [
        f"2026-11-25T09:{m:02d}:00Z"
        for m in range(5, 20)  # 09:20's grace runs to 09:30
    ]


def test_time_zone_of_the_task() -> None:
    # 09:00 in Berlin is 08:00 UTC in November
    assert missed(task("0 9 * * *", tz="Europe/Berlin")) == ["2026-11-25T08:00:00Z"]


def test_disabled_or_unparseable_schedules_miss_nothing() -> None:
    assert missed(task(enabled=False)) == []
    assert missed(task("every morning")) == []
    assert missed(task(enabled=None)) == ["2026-11-25T09:00:00Z"]  # null enabled: on


def test_missed_snapshot_and_task_state() -> None:
    (snap,) = missed_runs(
        parse_task(task()), source="recoup", now=NOW, watching_since=NOW - timedelta(days=1), grace=GRACE
    )
    assert (snap.run_id, snap.status, snap.phase, snap.task) == (
        "missed:t1:2026-11-25T09:00:00Z",
        "MISSED",
        Phase.MISSED,
        "Morning video",
    )
    assert snap.metadata["owner_email"] == "a@b.c"
    on = task_state(parse_task(task()), source="recoup", now=NOW)
    off = task_state(parse_task(task(enabled=False)), source="recoup", now=NOW)
    assert (on.run_id, on.status, on.phase) == ("task:t1", "ENABLED", Phase.RUNNING)
    assert (off.status, off.phase) == ("DISABLED", Phase.WAITING)
