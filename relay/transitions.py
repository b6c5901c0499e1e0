"""Diff: does a snapshot move a run forward? Pure: no I/O, no clock, ids passed in.

Rules of the game:
- first time seen -> a transition from None ("unknown"), flagged `backfill` when a poll finds
  it already finished before the relay started watching its source (history, not news; a
  pushed update is always news);
- terminal phases are absorbing: nothing after them is a transition;
- an update older than the stored one (updatedAt) is stale and dropped, except a terminal
  one after a non-terminal one: a run that ended cannot un-end, whatever the clocks say;
- the same phase again (a duplicate, or a rename such as REATTEMPTING/EXECUTING) is no
  transition, though the stored snapshot may still be refreshed (see `refresh`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from relay.ids import IdFactory
from relay.models import Phase, RunState, Snapshot, Transition, Via


def diff(
    previous: RunState | None,
    snapshot: Snapshot,
    *,
    now: datetime,
    watching_since: datetime,
    ids: IdFactory,
    task_last: Phase | None = None,
) -> Transition | None:
    """`task_last`: the phase of the task's last finished run before this one, if known."""
    recovered = snapshot.phase == Phase.SUCCEEDED and task_last is not None and task_last.problem
    if previous is None:
        backfill = _finished_before(snapshot, watching_since)
        return _transition(None, snapshot, now, ids(), backfill=backfill, recovered=recovered)
    old = previous.snapshot
    if old.terminal or snapshot.phase == old.phase:
        return None
    if snapshot.updated_at < old.updated_at and not snapshot.terminal:
        return None
    return _transition(old, snapshot, now, ids(), backfill=False, recovered=recovered)


def refresh(previous: RunState | None, snapshot: Snapshot) -> Snapshot | None:
    """The snapshot to store although no transition happened, or None to keep the old one.

    A newer or richer snapshot of the same phase is kept, e.g. when the poller later brings
    the output of a run a webhook announced (no second notification); detail already known
    (output, error) is never wiped by a later snapshot that lacks it.
    """
    if previous is None:
        return snapshot
    old = previous.snapshot
    if snapshot.phase != old.phase:
        return None
    newer = snapshot.updated_at > old.updated_at
    richer = (snapshot.output and not old.output) or (snapshot.error and not old.error)
    if not (newer or richer):
        return None
    return replace(
        snapshot,
        output=snapshot.output or old.output,
        error=snapshot.error or old.error,
        url=snapshot.url or old.url,
    )


# the main line of a run's life; waiting is a pause within running
_RANK = {Phase.PENDING: 0, Phase.QUEUED: 1, Phase.RUNNING: 2, Phase.WAITING: 2}
_MAIN_LINE = (Phase.PENDING, Phase.QUEUED, Phase.RUNNING)


def skipped_between(old: Phase, new: Phase) -> tuple[Phase, ...]:
    """Main-line phases between two observed ones that nobody saw (terminal ranks last)."""
    start = _RANK.get(old)
    end = 3 if new.terminal else _RANK.get(new)
    if start is None or end is None:
        return ()
    return _MAIN_LINE[start + 1 : end]


def _finished_before(snapshot: Snapshot, moment: datetime) -> bool:
    if not snapshot.terminal or snapshot.via != Via.POLL:
        return False
    finished = snapshot.finished_at or snapshot.updated_at
    return finished < moment


def _transition(
    old: Snapshot | None,
    new: Snapshot,
    now: datetime,
    transition_id: str,
    *,
    backfill: bool,
    recovered: bool,
) -> Transition:
    return Transition(
        id=transition_id,
        source=new.source,
        run_id=new.run_id,
        from_phase=old.phase if old else None,
        to_phase=new.phase,
        from_status=old.status if old else None,
        to_status=new.status,
        observed_at=now,
        via=new.via,
        backfill=backfill,
        skipped=skipped_between(old.phase, new.phase) if old else (),
        recovered=recovered,
    )
