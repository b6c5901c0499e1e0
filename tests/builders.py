"""Small builders for test data (pure values, no I/O)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.ids import IdFactory
from relay.lifecycle import trigger_phase
from relay.models import RunError, Snapshot, Via

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def snap(
    status: str = "EXECUTING",
    *,
    run_id: str = "run_1",
    task: str = "create-content",
    at: float = 0,
    source: str = "recoup",
    via: Via = Via.POLL,
    **extra: Any,
) -> Snapshot:
    phase = trigger_phase(status)
    updated = T0 + timedelta(seconds=at)
    extra.setdefault("finished_at", updated if phase.terminal else None)
    if isinstance(extra.get("error"), str):
        extra["error"] = RunError(extra["error"], "Error")
    return Snapshot(
        source=source,
        run_id=run_id,
        task=task,
        status=status,
        phase=phase,
        updated_at=updated,
        via=via,
        **extra,
    )


def counter(prefix: str = "id") -> IdFactory:
    """Ids for the pure stages that are the same on every run of a test: id-1, id-2, ..."""
    numbers = itertools.count(1)
    return lambda: f"{prefix}-{next(numbers)}"
