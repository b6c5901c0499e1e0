"""A run id becomes a segment of API paths (re-checks by id): `.` and `..` are refused by every
kind's parser, as any unusable run is (a 422 for a webhook, a skipped item for a poll)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from relay.errors import SourceError
from relay.models import Snapshot, Via
from relay.sources.recoup import parse as recoup
from relay.sources.taskrunner import parse as taskrunner
from relay.sources.triggerdev import parse as triggerdev

STAMP = "2026-11-25T12:00:00Z"


def recoup_run(run_id: str) -> Snapshot:
    obj = {"id": run_id, "taskIdentifier": "t", "status": "FAILED", "updatedAt": STAMP}
    return recoup.parse_run(obj, source="r", via=Via.WEBHOOK)


def taskrunner_run(run_id: str) -> Snapshot:
    obj = {"id": run_id, "task_name": "t", "status": "failed", "start_at": STAMP}
    return taskrunner.parse_run(obj, source="w", via=Via.WEBHOOK)


def triggerdev_alert(run_id: str) -> Snapshot | None:
    body: dict[str, Any] = {
        "task": {"id": "t"},
        "run": {"id": run_id, "status": "FAILED", "createdAt": STAMP, "error": {"message": "x"}},
    }
    return triggerdev.parse_alert(body, source="t")


PARSERS: list[Callable[[str], object]] = [recoup_run, taskrunner_run, triggerdev_alert]


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("run_id", [".", "..", " .. "])
def test_a_path_step_is_no_run_id(parse: Callable[[str], object], run_id: str) -> None:
    with pytest.raises(SourceError, match="cannot name a run"):
        parse(run_id)


@pytest.mark.parametrize("parse", PARSERS)
def test_ids_with_dots_and_slashes_are_runs(parse: Callable[[str], object]) -> None:
    """Only the path steps themselves: a slash is %-encoded in the path, dots inside are data."""
    snapshot = parse("run_1..2/x")
    assert isinstance(snapshot, Snapshot) and snapshot.run_id == "run_1..2/x"
