from datetime import timedelta

from relay.ids import new_id
from relay.models import Phase, RunState, Via
from relay.transitions import diff, refresh
from tests.builders import T0, snap

LATER = T0 + timedelta(hours=1)


def state(status: str, at: float = 0, **kw: object) -> RunState:
    return RunState(snap(status, at=at, **kw), T0)  # type: ignore[arg-type]


def test_first_sight_is_a_transition_from_unknown() -> None:
    t = diff(None, snap("EXECUTING"), now=T0, watching_since=T0, ids=new_id)
    assert t is not None and t.from_phase is None and t.to_phase == Phase.RUNNING
    assert t.first_seen and not t.backfill


def test_first_sight_of_a_run_finished_before_watching_is_backfill() -> None:
    t = diff(None, snap("COMPLETED", at=-60), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.backfill


def test_a_pushed_update_is_never_backfill() -> None:
    t = diff(None, snap("COMPLETED", at=-60, via=Via.WEBHOOK), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and not t.backfill


def test_first_sight_of_a_run_finished_after_watching_began_is_not_backfill() -> None:
    t = diff(None, snap("FAILED", at=60), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and not t.backfill


def test_forward_move_is_a_transition() -> None:
    t = diff(state("EXECUTING"), snap("COMPLETED", at=10), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None
    assert (t.from_phase, t.to_phase, t.from_status, t.to_status) == (
        Phase.RUNNING,
        Phase.SUCCEEDED,
        "EXECUTING",
        "COMPLETED",
    )


def test_duplicate_is_nothing() -> None:
    assert diff(
        state("COMPLETED", 10), snap("COMPLETED", at=10), now=LATER, watching_since=T0, ids=new_id
    ) is None


def test_stale_update_is_nothing() -> None:
    assert diff(
        state("EXECUTING", 20), snap("QUEUED", at=10), now=LATER, watching_since=T0, ids=new_id
    ) is None


def test_regression_out_of_terminal_is_nothing() -> None:
    assert diff(
        state("FAILED", 10), snap("EXECUTING", at=30), now=LATER, watching_since=T0, ids=new_id
    ) is None


def test_rename_between_vocabularies_is_nothing() -> None:
    # the list path says REATTEMPTING, the by-id path says EXECUTING for the same state
    assert diff(
        state("REATTEMPTING", 10), snap("EXECUTING", at=20), now=LATER, watching_since=T0, ids=new_id
    ) is None
    assert diff(state("FROZEN", 10), snap("WAITING", at=20), now=LATER, watching_since=T0, ids=new_id) is None
    assert diff(
        state("INTERRUPTED", 10), snap("FAILED", at=20), now=LATER, watching_since=T0, ids=new_id
    ) is None


def test_a_terminal_update_is_never_stale_after_a_running_one() -> None:
    # two paths with different clocks must not lose a real completion
    t = diff(state("EXECUTING", 30), snap("COMPLETED", at=20), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.to_phase == Phase.SUCCEEDED


def test_richer_snapshot_of_same_phase_refreshes_without_transition() -> None:
    old = state("FAILED", 10)
    richer = snap("FAILED", at=10, error="boom")
    assert diff(old, richer, now=LATER, watching_since=T0, ids=new_id) is None
    assert refresh(old, richer) == richer
    assert refresh(state("FAILED", 10, error="boom"), snap("FAILED", at=10, error="boom")) is None
    assert refresh(old, snap("EXECUTING", at=30)) is None


def test_a_later_snapshot_without_detail_keeps_the_known_output_and_error() -> None:
    known = state("COMPLETED", 10, output={"videoSourceUrl": "https://v/1.mp4"})
    bare = snap("COMPLETED", at=20)
    refreshed = refresh(known, bare)
    assert refreshed is not None and refreshed.output == {"videoSourceUrl": "https://v/1.mp4"}
    assert refreshed.updated_at == bare.updated_at


def test_phases_nobody_saw_are_named() -> None:
    t = diff(state("QUEUED"), snap("COMPLETED", at=10), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.skipped == (Phase.RUNNING,)
    t = diff(state("DELAYED"), snap("FAILED", at=10), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.skipped == (Phase.QUEUED, Phase.RUNNING)
    t = diff(state("EXECUTING"), snap("COMPLETED", at=10), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.skipped == ()
    t = diff(state("FROZEN"), snap("COMPLETED", at=10), now=LATER, watching_since=T0, ids=new_id)
    assert t is not None and t.skipped == ()
    first = diff(None, snap("COMPLETED"), now=LATER, watching_since=T0, ids=new_id)
    assert first is not None and first.skipped == ()
