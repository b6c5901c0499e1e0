"""RunWisp parsing and mapping: run objects of both eras, stream events, pushed bodies, the
log tail, the source's options, and the SSE decoder."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from relay.config import SourceConfig
from relay.errors import SourceError
from relay.models import Phase, Via
from relay.signing import SignatureError
from relay.sources.registry import kind_of
from relay.sources.taskrunner.logs import failure_error, log_tail, with_log
from relay.sources.taskrunner.options import TaskRunnerOptions
from relay.sources.taskrunner.parse import parse_event, parse_run, parse_webhook_body, runwisp_phase
from relay.sources.taskrunner.sse import SseDecoder, SseEvent, sse_events
from relay.sources.taskrunner.stream import replay_gap
from relay.sources.taskrunner.webhook import bearer_token

# the seed page's Run schema with every field filled in (v0.5 era: replica_index)
SEED_RUN: dict[str, Any] = {
    "$schema": "http://localhost:9477/schemas/Run.json",
    "id": "01JXYZ0000000000000000000A",
    "task_name": "backup-postgres",
    "status": "ended",
    "end_reason": "failed",
    "exit_code": 2,
    "created_at": "2026-05-13T02:30:00.000000001Z",
    "start_at": "2026-05-13T02:30:01.5Z",
    "end_at": "2026-05-13T02:33:05.5Z",
    "triggered_by": "cron",
    "replica_index": 0,
    "retry_attempt": 1,
    "retry_of_run_id": "01JXYZ00000000000000000009",
    "external_execution_id": "exec-7",
}


def run(**changes: Any) -> dict[str, Any]:
    item = {**SEED_RUN, **changes}
    return {k: v for k, v in item.items() if v is not None}


def _json(value: object) -> str:
    return json.dumps(value)


def parse(item: object, **kwargs: Any) -> Any:
    return parse_run(item, source="runner", via=Via.POLL, **kwargs)


# -- mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "phase"),
    [
        ("pending", None, Phase.QUEUED),
        ("running", None, Phase.RUNNING),
        ("ended", "success", Phase.SUCCEEDED),
        ("ended", "failed", Phase.FAILED),
        ("ended", "log_overflow", Phase.FAILED),
        ("ended", "stopped", Phase.CANCELED),
        ("ended", "timeout", Phase.TIMED_OUT),
        ("ended", "crashed", Phase.CRASHED),
        ("ended", "skipped", Phase.SKIPPED),
        ("ended", "queue_full", Phase.SKIPPED),
        ("ended", "dst_skipped", Phase.SKIPPED),
        ("ended", "daemon_stopped", Phase.CANCELED),
        ("ended", "missed", Phase.MISSED),
        ("ended", None, Phase.CANCELED),
        ("ended", "", Phase.CANCELED),
        ("ENDED", "Success", Phase.SUCCEEDED),
        ("ended", "vanished", Phase.UNKNOWN),
        ("paused", None, Phase.UNKNOWN),
    ],
)
def test_every_status_and_end_reason_maps(status: str, reason: str | None, phase: Phase) -> None:
    assert runwisp_phase(status, reason) is phase
    snapshot = parse(run(status=status, end_reason=reason or None))
    assert snapshot.phase is phase


def test_the_seed_run_in_full() -> None:
    s = parse(SEED_RUN)
    assert (s.source, s.run_id, s.task, s.status, s.via) == (
        "runner",
        "01JXYZ0000000000000000000A",
        "backup-postgres",
        "failed",
        Via.POLL,
    )
    assert s.created_at == datetime(2026, 5, 13, 2, 30, tzinfo=UTC)
    assert s.started_at == datetime(2026, 5, 13, 2, 30, 1, 500000, tzinfo=UTC)
    assert s.finished_at == s.updated_at == datetime(2026, 5, 13, 2, 33, 5, 500000, tzinfo=UTC)
    assert s.duration_ms == 184_000
    assert s.metadata == {
        "task_name": "backup-postgres",
        "task_label": "backup-postgres",
        "run_status": "ended",
        "end_reason": "failed",
        "exit_code": 2,
        "triggered_by": "cron",
        "instance_index": 0,
        "retry_attempt": 1,
        "retry_of_run_id": "01JXYZ00000000000000000009",
        "external_execution_id": "exec-7",
    }
    assert s.tags == ("triggered_by:cron", "retry_attempt:1")
    assert s.error is not None
    assert (s.error.name, s.error.message) == ("failed", "exit code 2")
    assert s.url is None


@pytest.mark.parametrize("field", ["replica_index", "instance_index"])
def test_both_instance_field_names(field: str) -> None:
    item = run(**{"replica_index": None, field: 2})
    s = parse(item)
    assert s.metadata["instance_index"] == 2
    assert s.metadata["task_label"] == "backup-postgres#2"
    assert "instance:2" in s.tags
    assert parse(run(replica_index=None)).metadata["instance_index"] == 0


def test_display_status_and_raw_status() -> None:
    assert parse(run(status="running", end_reason=None, end_at=None)).status == "running"
    reasonless = parse(run(end_reason=None))
    assert (reasonless.status, reasonless.metadata["run_status"]) == ("stopped", "ended")
    unknown = parse(run(status="ended", end_reason="vanished"))
    assert (unknown.status, unknown.phase, unknown.error) == ("vanished", Phase.UNKNOWN, None)


def test_updated_at_is_the_latest_moment() -> None:
    pending = parse(run(status="pending", end_reason=None, start_at=None, end_at=None))
    assert pending.updated_at == pending.created_at
    running = parse(run(status="running", end_reason=None, end_at=None))
    assert running.updated_at == running.started_at


def test_links() -> None:
    assert parse(SEED_RUN, external_url="https://runwisp.example.com").url == (
        "https://runwisp.example.com/tasks/backup-postgres/01JXYZ0000000000000000000A"
    )
    templated = parse(SEED_RUN, run_url="https://ops/{task}?run={run_id}", external_url="https://ignored")
    assert templated.url == "https://ops/backup-postgres?run=01JXYZ0000000000000000000A"


def test_a_per_task_list_item_without_task_name_takes_the_task_asked_for() -> None:
    assert parse(run(task_name=None), task="nightly").task == "nightly"
    with pytest.raises(SourceError, match="task_name is missing"):
        parse(run(task_name=None))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("a string", "run must be a JSON object, got a string"),
        (run(id=None), "run: id is missing"),
        (run(status=None), "status is missing"),
        (run(status=3), "status must be a non-empty string"),
        (run(task_name=7), "bad task_name 7"),
        (run(created_at=None, start_at=None, end_at=None), "no timestamp"),
        (run(end_at="yesterday"), "end_at is not an ISO 8601 datetime"),
    ],
)
def test_unusable_runs_are_source_errors(item: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse(item)


def test_lenient_fields_never_crash() -> None:
    s = parse(run(exit_code="2", retry_attempt=None, triggered_by=5, retry_of_run_id="", end_reason=42))
    assert s.metadata["exit_code"] is None
    assert s.metadata["retry_attempt"] == 0
    assert s.metadata["triggered_by"] is None
    assert s.metadata["retry_of_run_id"] is None
    assert (s.status, s.phase) == ("42", Phase.UNKNOWN)


# -- the failure detail ---------------------------------------------------------------------------


def test_failure_error_has_reason_exit_code_and_a_capped_tail() -> None:
    lines = [f"line {n:02d} " + "x" * 40 for n in range(20)]
    error = failure_error("timeout", 137, lines)
    assert error.name == "timeout"
    head, _, tail = error.message.partition("\nlast log lines:\n")
    assert head == "exit code 137"
    assert len(tail.encode()) <= 300
    assert tail.endswith(lines[-1])
    assert "line 19" in tail
    assert "line 00" not in tail
    assert error.stack_trace is not None
    assert error.stack_trace.startswith("line 00")


def test_log_tail_cleans_and_cuts() -> None:
    assert log_tail(["\x1b[31mError:\x1b[0m boom", "", "   ", "50%\r100% done"]) == "Error: boom\n100% done"
    long = log_tail(["é" * 400])
    assert long.startswith("…")
    assert len(long.encode()) <= 300
    assert log_tail([]) == ""


def test_with_log_keeps_the_stream_error_text() -> None:
    event = SseEvent("run.failed", _json({"run": SEED_RUN, "error": "signal: killed"}))
    s = parse_event(event, source="runner")
    assert s is not None
    assert s.error is not None
    assert s.error.message == "exit code 2: signal: killed"
    detailed = with_log(s, ["connecting", "Error: connection refused"])
    assert detailed.error is not None
    assert detailed.error.message == (
        "exit code 2: signal: killed\nlast log lines:\nconnecting\nError: connection refused"
    )


def test_no_error_for_runs_that_are_not_problems() -> None:
    for reason in ("success", "stopped", "skipped", "queue_full"):
        assert parse(run(end_reason=reason)).error is None


# -- stream events ---------------------------------------------------------------------------------


def test_stream_events() -> None:
    started = SseEvent(
        "run.started", _json({"run": run(status="running", end_reason=None, end_at=None)}), "7"
    )
    s = parse_event(started, source="runner", external_url="http://rw:9477")
    assert s is not None
    assert (s.via, s.phase, s.url) == (
        Via.WEBHOOK,
        Phase.RUNNING,
        "http://rw:9477/tasks/backup-postgres/01JXYZ0000000000000000000A",
    )
    # the name says completed, the run says failed: the run wins
    mislabelled = parse_event(SseEvent("run.completed", _json({"run": SEED_RUN})), source="runner")
    assert mislabelled is not None
    assert mislabelled.phase is Phase.FAILED
    bare = parse_event(SseEvent("run.updated", _json(SEED_RUN)), source="runner")
    assert bare is not None
    assert bare.run_id == SEED_RUN["id"]
    for other in ("ping", "system", "run.deleted", "message"):
        assert parse_event(SseEvent(other, "{}"), source="runner") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "event run.failed id 9: data is not JSON"),
        ('{"run": {"id": "r1"}}', "event run.failed id 9: run 'r1': status is missing"),
    ],
)
def test_malformed_stream_events(data: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_event(SseEvent("run.failed", data, "9"), source="runner")


# -- pushed bodies ----------------------------------------------------------------------------------


def test_pushed_shapes() -> None:
    one = parse_webhook_body(SEED_RUN, source="runner")
    wrapped = parse_webhook_body({"run": SEED_RUN, "error": "boom"}, source="runner")
    listed = parse_webhook_body({"runs": [SEED_RUN, run(id="01JXYZ0000000000000000000B")]}, source="runner")
    assert [s.run_id for s in one + wrapped + listed] == [SEED_RUN["id"]] * 3 + ["01JXYZ0000000000000000000B"]
    assert all(s.via is Via.WEBHOOK for s in one + wrapped + listed)
    assert wrapped[0].error is not None
    assert wrapped[0].error.message == "exit code 2: boom"
    with pytest.raises(SourceError, match=r"runs\[1\]: run: id is missing"):
        parse_webhook_body({"runs": [SEED_RUN, run(id=None)]}, source="runner")
    with pytest.raises(SourceError, match="runs must be a non-empty list"):
        parse_webhook_body({"runs": []}, source="runner")
    with pytest.raises(SourceError, match="got a list"):
        parse_webhook_body([SEED_RUN], source="runner")


NOTIFIER = {
    "kind": "run.failed",
    "severity": "error",
    "timestamp": "2025-01-15T02:30:45Z",
    "task": "backup-postgres",
    "title": "backup-postgres failed",
    "message": "Exited with code 1 after 3m 4s.",
    "trigger": "Scheduled run",
    "run": {
        "id": "01JXYZ0000000000000000000C",
        "exit_code": 1,
        "triggered_by": "cron",
        "url": "https://runwisp.example.com/tasks/backup-postgres/01JXYZ0000000000000000000C",
        "duration": "3m 4s",
    },
    "output_tail": "Error: connection refused\ndial tcp 10.0.0.5:5432",
    "reason": "exit 1",
    "source": "runwisp (bright-falcon)",
}


def test_runwisps_own_webhook_notifier_payload() -> None:
    [s] = parse_webhook_body(NOTIFIER, source="runner")
    assert (s.run_id, s.task, s.status, s.phase) == (
        "01JXYZ0000000000000000000C",
        "backup-postgres",
        "failed",
        Phase.FAILED,
    )
    assert s.finished_at == datetime(2025, 1, 15, 2, 30, 45, tzinfo=UTC)
    assert s.url == NOTIFIER["run"]["url"]  # type: ignore[index]
    assert s.error is not None
    assert (
        s.error.message == "exit code 1\nlast log lines:\nError: connection refused\ndial tcp 10.0.0.5:5432"
    )
    timeout = parse_webhook_body({**NOTIFIER, "kind": "run.timeout"}, source="runner")[0]
    assert timeout.phase is Phase.TIMED_OUT
    started = parse_webhook_body({**NOTIFIER, "kind": "run.started", "output_tail": None}, source="runner")[0]
    assert (started.phase, started.error, started.started_at) == (Phase.RUNNING, None, started.updated_at)
    assert parse_webhook_body({**NOTIFIER, "kind": "service.fatal"}, source="runner") == []
    assert parse_webhook_body({**NOTIFIER, "kind": "run.exploded"}, source="runner")[0].phase is Phase.UNKNOWN


def config(**options: Any) -> SourceConfig:
    return SourceConfig(name="runner", kind="taskrunner", base_url="http://127.0.0.1:9477", options=options)


def test_the_kind_parses_pushed_bodies_with_the_sources_links() -> None:
    kind = kind_of("taskrunner")
    [s] = kind.parse_webhook(SEED_RUN, config(external_url="https://rw.example.com/"))
    assert s.url == "https://rw.example.com/tasks/backup-postgres/01JXYZ0000000000000000000A"
    with pytest.raises(SourceError, match="option log_lines"):
        kind.parse_webhook(SEED_RUN, config(log_lines=-1))


def test_pushes_authenticate_with_a_bearer_token() -> None:
    source = SourceConfig(name="runner", kind="taskrunner", base_url="", webhook_secrets=("hook-secret-123",))
    bearer_token(source, {"Authorization": "Bearer hook-secret-123"}, b"{}")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "hook-secret-123"}):
        with pytest.raises(SignatureError):
            bearer_token(source, headers, b"{}")
    assert kind_of("taskrunner").authenticate is bearer_token
    rotating = replace(source, webhook_secrets=("new-token-456", "hook-secret-123"))
    for token in rotating.webhook_secrets:  # while tokens rotate, either one is let in
        bearer_token(rotating, {"authorization": f"Bearer {token}"}, b"{}")


# -- options ---------------------------------------------------------------------------------------


def test_options_defaults_and_values() -> None:
    assert TaskRunnerOptions.of(config()) == TaskRunnerOptions()
    o = TaskRunnerOptions.of(
        config(
            tasks=["backup", "report.daily", "backup"],
            socket="/var/lib/runwisp/runwisp.sock",
            stream=True,
            external_url="https://rw.example.com/",
            log_lines=0,
        )
    )
    assert o == TaskRunnerOptions(
        ("backup", "report.daily"), "/var/lib/runwisp/runwisp.sock", True, "https://rw.example.com", 0
    )
    assert TaskRunnerOptions.of(config(tasks="backup")).tasks == ("backup",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tasks": ["ok", "not ok"]}, "option tasks must be a list of task names"),
        ({"tasks": {"a": 1}}, "option tasks"),
        ({"socket": ""}, "option socket"),
        ({"stream": "yes"}, "option stream must be true or false"),
        ({"external_url": "runwisp.local"}, "option external_url must be an http"),
        ({"log_lines": 5000}, "option log_lines must be a whole number from 0 to 1000"),
        ({"log_lines": True}, "option log_lines"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        TaskRunnerOptions.of(config(**options))
    assert "source 'runner'" in str(caught.value)


# -- SSE decoding ------------------------------------------------------------------------------------


def test_sse_decoder_follows_the_spec() -> None:
    decoder = SseDecoder()
    lines = [
        ": a comment",
        "event: run.started",
        "id: 5",
        'data: {"a":',
        "data:1}",
        "retry: 2500",
        "unknown: x",
        "",
        "data: no event name",
        "",
        "event: ping",
        "",  # no data: not dispatched
        "id",  # an empty id resets it
        "data: x",
        "",
    ]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert events == [
        SseEvent("run.started", '{"a":\n1}', "5", 2.5),
        SseEvent("message", "no event name", "5"),
        SseEvent("message", "x", None),
    ]


async def test_sse_events_over_lines() -> None:
    async def lines() -> Any:
        for line in ["event: run.created\r\n", "data: {}\r\n", "\r\n", "event: cut\n", "data: off\n"]:
            yield line

    found = [e async for e in sse_events(lines())]
    assert found == [SseEvent("run.created", "{}")]


@pytest.mark.parametrize(
    ("sent", "first", "gap"),
    [
        ("41", "42", None),  # the replay starts where the relay stopped: it covers the gap
        (None, None, "no event id to resume from"),
        ("41", "45", "events 42..44 were not replayed"),
        ("41", "3", "event ids restarted lower (3 after 41): the platform restarted"),
        ("abc", "abd", "event ids 'abc' and 'abd' are not a counter"),
    ],
)
def test_a_replay_covers_the_gap_only_from_the_next_id(
    sent: str | None, first: str | None, gap: str | None
) -> None:
    assert replay_gap(sent, first) == gap
