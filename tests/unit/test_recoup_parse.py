"""parse_run / parse_webhook_body / parse_retry_after over the documented Recoup shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relay.errors import SourceError
from relay.models import Phase, RunError, Via
from relay.sources.http import DEFAULT_RETRY_AFTER, parse_retry_after
from relay.sources.recoup.parse import parse_run, parse_webhook_body

# the list item of recoup-get-task-runs.txt with its placeholders filled in (by-id shape:
# that page's example carries output and error although the list leaves them out)
DOCUMENTED: dict[str, Any] = {
    "id": "run_cm1abc",
    "taskIdentifier": "create-content",
    "createdAt": "2023-11-07T05:31:56Z",
    "updatedAt": "2023-11-07T05:41:56Z",
    "idempotencyKey": None,
    "version": "20231107.3",
    "isTest": True,
    "startedAt": "2023-11-07T05:32:00Z",
    "finishedAt": "2023-11-07T05:41:56Z",
    "delayedUntil": None,
    "ttl": None,
    "expiredAt": None,
    "tags": ["account:2f1c", "artist:nova"],
    "metadata": {"currentStep": "render"},
    "costInCents": 123,
    "baseCostInCents": 123,
    "durationMs": 123,
    "env": {"id": "env_1", "name": "prod", "user": None},
    "depth": 0,
    "batchId": None,
    "payload": None,
    "output": {
        "videoSourceUrl": "https://v3.fal.media/files/video.mp4",
        "imageUrl": "https://v3.fal.media/files/image.png",
        "captionText": "late night, bedroom tapes",
        "template": "artist-caption-bedroom",
        "lipsync": True,
        "audio": {
            "songTitle": "Nova",
            "songFilename": "nova.mp3",
            "startSeconds": 12,
            "durationSeconds": 8,
            "clipLyrics": "la la",
            "clipMood": "dreamy",
        },
    },
    "error": None,
    "attempts": [],
    "schedule": {},
    "relatedRuns": {},
    "status": "COMPLETED",
}


def run(**changes: Any) -> dict[str, Any]:
    item = dict(DOCUMENTED)
    for key, value in changes.items():
        if value is ...:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def parse(obj: object, **kwargs: Any) -> Any:
    return parse_run(obj, source="recoup", via=Via.POLL, **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_documented_run() -> None:
    s = parse(DOCUMENTED)
    assert (s.source, s.run_id, s.task, s.status, s.phase) == (
        "recoup",
        "run_cm1abc",
        "create-content",
        "COMPLETED",
        Phase.SUCCEEDED,
    )
    assert (s.terminal, s.via, s.is_test) == (True, Via.POLL, True)
    assert s.created_at == at("2023-11-07T05:31:56")
    assert s.started_at == at("2023-11-07T05:32:00")
    assert s.finished_at == s.updated_at == at("2023-11-07T05:41:56")
    assert s.tags == ("account:2f1c", "artist:nova")
    assert s.metadata == {"currentStep": "render"}
    assert s.output == DOCUMENTED["output"]
    assert (s.error, s.duration_ms, s.url) == (None, 123, None)


def test_timestamps_are_aware_utc() -> None:
    s = parse(
        run(
            createdAt="2023-11-07T07:31:56.123+02:00",
            updatedAt="2023-11-07T05:41:56.5Z",
            startedAt="2023-11-07T05:32:00",
        )
    )  # no offset: read as UTC, not local time
    for value in (s.created_at, s.updated_at, s.started_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert s.created_at == at("2023-11-07T05:31:56.123")
    assert s.updated_at == at("2023-11-07T05:41:56.500")
    assert s.started_at == at("2023-11-07T05:32:00")


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        # legacy names (the list)
        ("PENDING_VERSION", Phase.PENDING),
        ("WAITING_FOR_DEPLOY", Phase.PENDING),
        ("DELAYED", Phase.PENDING),
        ("QUEUED", Phase.QUEUED),
        ("EXECUTING", Phase.RUNNING),
        ("REATTEMPTING", Phase.RUNNING),
        ("FROZEN", Phase.WAITING),
        ("INTERRUPTED", Phase.FAILED),
        # new names (?runId=)
        ("DEQUEUED", Phase.RUNNING),
        ("WAITING", Phase.WAITING),
        # both
        ("COMPLETED", Phase.SUCCEEDED),
        ("FAILED", Phase.FAILED),
        ("CANCELED", Phase.CANCELED),
        ("CRASHED", Phase.CRASHED),
        ("SYSTEM_FAILURE", Phase.SYSTEM_ERROR),
        ("EXPIRED", Phase.EXPIRED),
        ("TIMED_OUT", Phase.TIMED_OUT),
    ],
)
def test_both_vocabularies(status: str, phase: Phase) -> None:
    s = parse(run(status=status))
    assert (s.status, s.phase) == (status, phase)


def test_unknown_status_is_kept() -> None:
    s = parse(run(status="PAUSED_FOR_REVIEW"))
    assert (s.status, s.phase, s.terminal) == ("PAUSED_FOR_REVIEW", Phase.UNKNOWN, False)


def test_a_running_list_item_with_nulls() -> None:
    item = run(
        status="EXECUTING",
        finishedAt=None,
        metadata=None,
        durationMs=0,
        tags=None,
        output=...,
        error=...,
        payload=...,
        attempts=...,
    )
    s = parse(item)
    assert (s.phase, s.finished_at, s.duration_ms) == (Phase.RUNNING, None, 0)
    assert (s.metadata, s.tags, s.output, s.error) == ({}, (), None, None)


def test_not_started_run_has_no_started_at() -> None:
    s = parse(run(status="QUEUED", startedAt=None, finishedAt=None, updatedAt=...))
    assert s.started_at is None
    assert s.updated_at == s.created_at == at("2023-11-07T05:31:56")


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        (("updatedAt",), "2023-11-07T05:41:56"),  # finishedAt
        (("updatedAt", "finishedAt"), "2023-11-07T05:32:00"),  # startedAt
        (("updatedAt", "finishedAt", "startedAt"), "2023-11-07T05:31:56"),  # createdAt
    ],
)
def test_updated_at_falls_back(missing: tuple[str, ...], expected: str) -> None:
    s = parse(run(**dict.fromkeys(missing, ...)))
    assert s.updated_at == at(expected)


def test_data_url_output_is_kept_as_is() -> None:
    """Early create-content versions inlined the MP4; the message layer decides what to show."""
    video = "data:video/mp4;base64," + "AAAAIGZ0eXBpc29t" * 1000
    s = parse(run(output={"videoSourceUrl": video, "renderedVideoBytes": 12000, "video": None}))
    assert s.output == {"videoSourceUrl": video, "renderedVideoBytes": 12000, "video": None}


@pytest.mark.parametrize("output", ["done", ["a"], 3, True])
def test_output_that_is_not_an_object_is_dropped(output: object) -> None:
    assert parse(run(output=output)).output is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"message": "ffmpeg exited with 1", "name": "Error", "stackTrace": "at render()"},
            RunError("ffmpeg exited with 1", "Error", "at render()"),
        ),
        ({"message": "out of memory"}, RunError("out of memory")),
        ("Run timed out", RunError("Run timed out")),
        ({"raw": "kill -9", "type": "STRING_ERROR"}, RunError("kill -9")),
        ({"code": "TASK_PROCESS_OOM_KILLED", "type": "INTERNAL_ERROR"}, RunError("TASK_PROCESS_OOM_KILLED")),
        ({}, None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_error(error: object, expected: RunError | None) -> None:
    assert parse(run(status="FAILED", output=None, error=error)).error == expected


def test_run_url_is_formatted() -> None:
    s = parse(DOCUMENTED, run_url="https://chat.recoupable.com/runs/{run_id}")
    assert s.url == "https://chat.recoupable.com/runs/run_cm1abc"


def test_numbers_that_are_not_numbers() -> None:
    assert parse(run(durationMs="123")).duration_ms is None
    assert parse(run(durationMs=True)).duration_ms is None
    assert parse(run(durationMs=float("nan"))).duration_ms is None
    assert parse(run(durationMs=1500.7)).duration_ms == 1500
    assert parse(run(isTest="yes")).is_test is False


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (None, "run must be a JSON object, got null"),
        (["run_1"], "run must be a JSON object, got a list"),
        ("run_1", "run must be a JSON object, got a string"),
        (run(id=...), "run: id is missing"),
        (run(id=""), "run: id must be a non-empty string, got ''"),
        (run(id=17), "run: id must be a non-empty string, got 17"),
        (run(status=...), "run 'run_cm1abc': status is missing"),
        (run(status=None), "run 'run_cm1abc': status is missing"),
        (run(status=3), "run 'run_cm1abc': status must be a non-empty string, got 3"),
        (run(taskIdentifier=...), "run 'run_cm1abc': taskIdentifier is missing"),
        (run(createdAt="yesterday"), "run 'run_cm1abc': createdAt is not an ISO 8601 datetime: 'yesterday'"),
        (
            run(finishedAt=1699335116),
            "run 'run_cm1abc': finishedAt must be an ISO 8601 string, got 1699335116",
        ),
        (
            run(createdAt=..., updatedAt=..., startedAt=..., finishedAt=...),
            "run 'run_cm1abc': no timestamp (updatedAt, finishedAt, startedAt, createdAt)",
        ),
    ],
)
def test_malformed_runs_say_what_is_wrong(obj: object, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(obj)
    assert str(caught.value) == message


def test_long_bad_values_are_cut_in_messages() -> None:
    with pytest.raises(SourceError, match=r"updatedAt is not an ISO 8601 datetime: 'x{76}\.\.\.$"):
        parse(run(updatedAt="x" * 5000))


# -- webhook bodies ---------------------------------------------------------------------------


def test_webhook_single_run() -> None:
    [s] = parse_webhook_body(DOCUMENTED, source="recoup", run_url="https://r/{run_id}")
    assert (s.run_id, s.via, s.url) == ("run_cm1abc", Via.WEBHOOK, "https://r/run_cm1abc")


def test_webhook_list_shape() -> None:
    body = {"status": "success", "runs": [run(id="run_a"), run(id="run_b", status="FROZEN")]}
    snapshots = parse_webhook_body(body, source="recoup")
    assert [(s.run_id, s.phase, s.via) for s in snapshots] == [
        ("run_a", Phase.SUCCEEDED, Via.WEBHOOK),
        ("run_b", Phase.WAITING, Via.WEBHOOK),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"runs": []}, "runs must be a non-empty list of run objects"),
        ({"runs": {"id": "run_a"}}, "runs must be a non-empty list of run objects"),
        ([DOCUMENTED], r"body must be a run object or \{\"runs\": \[\.\.\.\]\}, got a list"),
        ("hello", "got a string"),
        (None, "got null"),
        ({"status": "success"}, "run: id is missing"),
        ({"runs": [DOCUMENTED, run(status=None)]}, r"runs\[1\]: run 'run_cm1abc': status is missing"),
    ],
)
def test_webhook_bad_bodies(body: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_webhook_body(body, source="recoup")


# -- Retry-After --------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("Thu, 01 Jan 2026 12:00:45 GMT", 45.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # already past: retry now
        (None, DEFAULT_RETRY_AFTER),
        ("", DEFAULT_RETRY_AFTER),
        ("soon", DEFAULT_RETRY_AFTER),
        ("-5", DEFAULT_RETRY_AFTER),
        ("inf", DEFAULT_RETRY_AFTER),
        ("nan", DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds
