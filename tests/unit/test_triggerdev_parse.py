"""Trigger.dev parsing, signatures, replays, options and rate-limit arithmetic: pure logic over
the documented shapes (docs/platforms.md 2.3, 2.4, 2.5, 2.7, 4.2)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relay.config import SourceConfig, load_ruleset
from relay.errors import ConfigError, SourceError
from relay.models import Phase, RunError, Via
from relay.signing import SignatureError, sign
from relay.sources.http import DEFAULT_RETRY_AFTER
from relay.sources.state import RateBudget, SourceState
from relay.sources.triggerdev.client import iso, retry_after_429
from relay.sources.triggerdev.options import TriggerOptions
from relay.sources.triggerdev.parse import STACK_LIMIT, parse_retrieved, task_run_error, trim_error
from relay.sources.triggerdev.webhook import authenticate, parse_webhook, push_key

SECRET = "trigger-alert-secret-0123"
CONFIG = SourceConfig(
    name="trigger", kind="triggerdev", base_url="https://api.trigger.dev", webhook_secrets=(SECRET,)
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# the v2 RunFailedWebhook of packages/core/src/v3/schemas/webhooks.ts, filled in
ALERT_V2: dict[str, Any] = {
    "id": "alert_cm3zq1",
    "created": "2026-11-25T12:00:03.120Z",
    "webhookVersion": "v1",
    "type": "alert.run.failed",
    "object": {
        "task": {
            "id": "send-digest",
            "filePath": "src/trigger/digest.ts",
            "exportName": "sendDigest",
            "version": "20261125.4",
            "sdkVersion": "4.0.0",
            "cliVersion": "4.0.0",
        },
        "run": {
            "id": "run_cm3abc",
            "number": 42,
            "status": "CRASHED",
            "createdAt": "2026-11-25T11:58:00.000Z",
            "startedAt": "2026-11-25T11:58:01.000Z",
            "completedAt": "2026-11-25T12:00:02.500Z",
            "isTest": False,
            "idempotencyKey": "digest-2026-11-25",
            "tags": ["team:growth"],
            "error": {
                "type": "INTERNAL_ERROR",
                "code": "TASK_PROCESS_OOM_KILLED",
                "message": "Process was killed: out of memory",
            },
            "isOutOfMemoryError": True,
            "machine": "small-1x",
            "dashboardUrl": "https://cloud.trigger.dev/projects/v3/proj_digest/runs/run_cm3abc",
        },
        "environment": {"id": "env_1", "type": "PRODUCTION", "slug": "prod", "branchName": None},
        "organization": {"id": "org_1", "slug": "acme", "name": "Acme"},
        "project": {"id": "prj_1", "ref": "proj_digest", "slug": "digest", "name": "Digest"},
    },
}
# the legacy v1 payload: no alert id, no status, no dashboard link
ALERT_V1: dict[str, Any] = {
    "task": {"id": "send-digest", "fileName": "src/trigger/digest.ts", "exportName": "sendDigest"},
    "run": {
        "id": "run_v1abc",
        "isTest": False,
        "createdAt": "2026-11-25T11:58:00.000Z",
        "idempotencyKey": None,
    },
    "environment": {"id": "env_1", "type": "PRODUCTION", "slug": "prod"},
    "organization": {"id": "org_1", "slug": "acme", "name": "Acme"},
    "project": {"id": "prj_1", "ref": "proj_legacy", "slug": "digest", "name": "Digest"},
    "error": {
        "type": "BUILT_IN_ERROR",
        "name": "TypeError",
        "message": "x is undefined",
        "stackTrace": "at a",
    },
}
# GET /api/v3/runs/{runId} as documented (trigger-v3-retrieve-run.txt), with the error the
# server adds (SerializedError)
RETRIEVED: dict[str, Any] = {
    "id": "run_cm3abc",
    "status": "FAILED",
    "taskIdentifier": "send-digest",
    "version": "20261125.4",
    "payload": {"to": "team@example.com"},
    "idempotencyKey": "digest-2026-11-25",
    "createdAt": "2026-11-25T11:58:00.000Z",
    "updatedAt": "2026-11-25T12:00:02.600Z",
    "isTest": False,
    "startedAt": "2026-11-25T11:58:01.000Z",
    "finishedAt": "2026-11-25T12:00:02.500Z",
    "tags": ["team:growth"],
    "metadata": {"step": "render"},
    "costInCents": 0.42,
    "baseCostInCents": 0.25,
    "durationMs": 121500,
    "error": {"message": "SMTP 550", "name": "MailError", "stackTrace": "at send (digest.ts:3)"},
    "attempts": [],
}


def alert(base: dict[str, Any], **run: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(base))
    target = body["object"]["run"] if "object" in body else body["run"]
    for key, value in run.items():
        if value is ...:
            target.pop(key, None)
        else:
            target[key] = value
    return body


def config(**options: Any) -> SourceConfig:
    return SourceConfig(
        name="trigger",
        kind="triggerdev",
        base_url="https://api.trigger.dev",
        webhook_secrets=(SECRET,),
        options=options,
    )


def trigger_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- alerts ------------------------------------------------------------------------------------


def test_v2_run_failed_alert() -> None:
    (s,) = parse_webhook(ALERT_V2, CONFIG)
    assert (s.source, s.run_id, s.task, s.status, s.phase) == (
        "trigger",
        "run_cm3abc",
        "send-digest",
        "CRASHED",
        Phase.CRASHED,
    )
    assert s.via is Via.WEBHOOK
    assert s.updated_at == s.finished_at == datetime(2026, 11, 25, 12, 0, 2, 500000, tzinfo=UTC)
    assert s.started_at == datetime(2026, 11, 25, 11, 58, 1, tzinfo=UTC)
    assert s.error == RunError("Process was killed: out of memory", "TASK_PROCESS_OOM_KILLED")
    assert s.url == "https://cloud.trigger.dev/projects/v3/proj_digest/runs/run_cm3abc"
    assert s.tags == ("team:growth",)
    assert s.metadata["alert"] == {
        "environment": "prod",
        "project": "proj_digest",
        "version": "20261125.4",
        "number": 42,
        "machine": "small-1x",
        "isOutOfMemoryError": True,
        "idempotencyKey": "digest-2026-11-25",
    }


def test_v1_alert_is_a_failure_linked_through_the_project_ref() -> None:
    (s,) = parse_webhook(ALERT_V1, CONFIG)
    assert (s.run_id, s.task, s.status, s.phase) == ("run_v1abc", "send-digest", "FAILED", Phase.FAILED)
    assert s.updated_at == datetime(2026, 11, 25, 11, 58, tzinfo=UTC)  # only createdAt: earliest
    assert s.error == RunError("x is undefined", "TypeError", "at a")
    assert s.url == "https://cloud.trigger.dev/projects/v3/proj_legacy/runs/run_v1abc"


@pytest.mark.parametrize(
    ("options", "run_url", "expected"),
    [
        (
            {"project_ref": "proj_mine"},
            None,
            "https://cloud.trigger.dev/projects/v3/proj_mine/runs/run_v1abc",
        ),
        (
            {"project_ref": "proj_mine"},
            "https://tr.example.com/r/{run_id}",
            "https://tr.example.com/r/run_v1abc",
        ),
    ],
)
def test_a_configured_link_wins_over_the_alerts_project(
    options: dict[str, Any], run_url: str | None, expected: str
) -> None:
    source = SourceConfig(name="trigger", kind="triggerdev", base_url="x", run_url=run_url, options=options)
    (s,) = parse_webhook(ALERT_V1, source)
    assert s.url == expected


def test_the_alerts_dashboard_url_wins_over_configuration() -> None:
    (s,) = parse_webhook(ALERT_V2, config(project_ref="proj_other"))
    assert s.url == "https://cloud.trigger.dev/projects/v3/proj_digest/runs/run_cm3abc"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"type": "BUILT_IN_ERROR", "name": "Error", "message": "boom", "stackTrace": "at x"},
            ("boom", "Error"),
        ),
        ({"type": "STRING_ERROR", "raw": "it broke"}, ("it broke", None)),
        ({"type": "CUSTOM_ERROR", "raw": '{"reason":"quota"}'}, ('{"reason":"quota"}', None)),
        ({"type": "INTERNAL_ERROR", "code": "MAX_DURATION_EXCEEDED"}, ("MAX_DURATION_EXCEEDED", None)),
        (
            {"type": "INTERNAL_ERROR", "code": "TASK_RUN_CRASHED", "message": "crash"},
            ("crash", "TASK_RUN_CRASHED"),
        ),
        ("plain text", ("plain text", None)),
    ],
)
def test_task_run_error_union(error: object, expected: tuple[str, str | None]) -> None:
    parsed = task_run_error(error)
    assert parsed is not None
    assert (parsed.message, parsed.name) == expected


@pytest.mark.parametrize("error", [None, {}, {"type": "STRING_ERROR", "raw": ""}, 7, []])
def test_no_usable_error_is_none(error: object) -> None:
    assert task_run_error(error) is None
    (s,) = parse_webhook(alert(ALERT_V2, error=error), CONFIG)
    assert s.error is None and s.phase is Phase.CRASHED


@pytest.mark.parametrize(
    ("status", "phase"),
    [("TIMED_OUT", Phase.TIMED_OUT), ("SYSTEM_FAILURE", Phase.SYSTEM_ERROR), ("EXPIRED", Phase.EXPIRED)],
)
def test_the_alerts_status_decides_the_phase(status: str, phase: Phase) -> None:
    (s,) = parse_webhook(alert(ALERT_V2, status=status), CONFIG)
    assert (s.status, s.phase) == (status, phase)


@pytest.mark.parametrize("status", [..., "SOMETHING_NEW", "EXECUTING"])
def test_a_failure_alert_is_a_failure_whatever_its_status(status: object) -> None:
    (s,) = parse_webhook(alert(ALERT_V2, status=status), CONFIG)
    assert s.phase is Phase.FAILED
    assert s.status == ("FAILED" if status is ... else status)


@pytest.mark.parametrize("kind", ["alert.deployment.success", "alert.deployment.failed", "alert.error_group"])
def test_other_alerts_are_accepted_and_ignored(kind: str) -> None:
    assert parse_webhook({**ALERT_V2, "type": kind, "object": {"deployment": {}}}, CONFIG) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**ALERT_V2, "type": 3}, "type must be a string"),
        ({**ALERT_V2, "object": None, "webhookVersion": "v1"}, "object must be a JSON object"),
        (alert(ALERT_V2, id=...), "run is missing"),  # run.id
        ({**ALERT_V2, "object": {**ALERT_V2["object"], "task": {}}}, "task.id is missing"),
        (alert(ALERT_V2, completedAt="yesterday"), "completedAt is not an ISO 8601 datetime"),
        (alert(ALERT_V1, createdAt=...), "no timestamp"),
    ],
)
def test_malformed_alerts_are_source_errors(body: dict[str, Any], message: str) -> None:
    if message == "run is missing":
        message = "alert run: id is missing"
    with pytest.raises(SourceError, match=message):
        parse_webhook(body, CONFIG)


# -- replays ---------------------------------------------------------------------------------------


def test_an_alert_is_known_by_its_id_for_replays() -> None:
    assert push_key(ALERT_V2, parse_webhook(ALERT_V2, CONFIG)) == "alert:alert_cm3zq1"
    other = {**alert(ALERT_V2, id="run_2"), "id": "alert_2"}
    assert push_key(other, parse_webhook(other, CONFIG)) == "alert:alert_2"


def test_a_v1_alert_is_known_by_its_run() -> None:
    [snapshot] = parse_webhook(ALERT_V1, CONFIG)
    assert push_key(ALERT_V1, [snapshot]) == f"run:{snapshot.run_id}"


def test_a_run_object_or_an_ignored_alert_has_no_replay_key() -> None:
    assert push_key(ALERT_V2, []) is None
    assert push_key({"id": "run_1", "status": "COMPLETED"}, []) is None


def test_run_objects_and_lists_are_parsed_with_the_dashboard_link() -> None:
    (one,) = parse_webhook(RETRIEVED, config(project_ref="proj_digest"))
    assert one.url == "https://cloud.trigger.dev/projects/v3/proj_digest/runs/run_cm3abc"
    assert one.error == RunError("SMTP 550", "MailError", "at send (digest.ts:3)")
    both = parse_webhook({"runs": [RETRIEVED, {**RETRIEVED, "id": "run_2", "status": "DEQUEUED"}]}, CONFIG)
    assert [(s.run_id, s.phase) for s in both] == [("run_cm3abc", Phase.FAILED), ("run_2", Phase.RUNNING)]
    assert all(s.via is Via.WEBHOOK and s.url is None for s in both)


def test_retrieved_run() -> None:
    s = parse_retrieved(RETRIEVED, source="trigger")
    assert (s.status, s.phase, s.via, s.duration_ms) == ("FAILED", Phase.FAILED, Via.POLL, 121500)
    assert s.updated_at == datetime(2026, 11, 25, 12, 0, 2, 600000, tzinfo=UTC)
    assert s.metadata == {"step": "render"}


# docs/platforms.md 4.2: every name of both vocabularies, DEQUEUED, WAITING, TIMED_OUT, EXPIRED too
EVERY_STATUS = [
    ("DELAYED", Phase.PENDING),
    ("PENDING_VERSION", Phase.PENDING),
    ("WAITING_FOR_DEPLOY", Phase.PENDING),
    ("QUEUED", Phase.QUEUED),
    ("DEQUEUED", Phase.RUNNING),
    ("EXECUTING", Phase.RUNNING),
    ("REATTEMPTING", Phase.RUNNING),
    ("FROZEN", Phase.WAITING),
    ("WAITING", Phase.WAITING),
    ("COMPLETED", Phase.SUCCEEDED),
    ("FAILED", Phase.FAILED),
    ("INTERRUPTED", Phase.FAILED),
    ("CANCELED", Phase.CANCELED),
    ("TIMED_OUT", Phase.TIMED_OUT),
    ("CRASHED", Phase.CRASHED),
    ("EXPIRED", Phase.EXPIRED),
    ("SYSTEM_FAILURE", Phase.SYSTEM_ERROR),
    ("SOMETHING_NEW", Phase.UNKNOWN),
]


@pytest.mark.parametrize(("status", "phase"), EVERY_STATUS)
def test_every_status_maps_to_a_phase(status: str, phase: Phase) -> None:
    s = parse_retrieved({**RETRIEVED, "status": status}, source="trigger")
    assert (s.status, s.phase) == (status, phase)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "run must be a JSON object"),
        ({**RETRIEVED, "status": None}, "status is missing"),
        ({**RETRIEVED, "taskIdentifier": ""}, "taskIdentifier must be a non-empty string"),
    ],
)
def test_unusable_run_objects(obj: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_retrieved(obj, source="trigger")


def test_stack_frames_of_the_sdk_and_node_are_trimmed_and_long_text_capped() -> None:
    stack = "\n".join(
        [
            "Error: boom",
            "    at send (src/trigger/digest.ts:3:9)",
            "    at run (node_modules/@trigger.dev/core/dist/esm/v3/workers/taskExecutor.js:40:1)",
            "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        ]
    )
    trimmed = trim_error(RunError("boom", "Error", stack))
    assert (
        trimmed is not None and trimmed.stack_trace == "Error: boom\n    at send (src/trigger/digest.ts:3:9)"
    )
    long = trim_error(RunError("x" * 5000, None, "y" * 5000))
    assert long is not None and long.stack_trace is not None
    assert len(long.message) == len(long.stack_trace) == STACK_LIMIT
    assert long.message.endswith("see the dashboard for the complete error")
    (s,) = parse_webhook({**RETRIEVED, "error": {"message": "boom", "stackTrace": stack}}, CONFIG)
    assert s.error is not None and "@trigger.dev/core" not in (s.error.stack_trace or "")


# -- signatures ---------------------------------------------------------------------------------------


def test_a_trigger_signed_alert_is_authentic() -> None:
    body = json.dumps(ALERT_V2).encode()
    authenticate(CONFIG, {"x-trigger-signature-hmacsha256": trigger_signature(body)}, body)
    # header names in any case, hex in any case
    authenticate(CONFIG, {"X-Trigger-Signature-HmacSHA256": trigger_signature(body).upper()}, body)


@pytest.mark.parametrize(
    ("signature", "body"),
    [
        (trigger_signature(json.dumps(ALERT_V2).encode(), "wrong-secret"), json.dumps(ALERT_V2).encode()),
        (
            trigger_signature(json.dumps(ALERT_V2).encode()),
            json.dumps(alert(ALERT_V2, status="COMPLETED")).encode(),
        ),
        ("", json.dumps(ALERT_V2).encode()),
        ("not hex at all: ünïcode", json.dumps(ALERT_V2).encode()),
    ],
)
def test_a_wrong_trigger_signature_or_a_tampered_body_is_rejected(signature: str, body: bytes) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        authenticate(CONFIG, {"x-trigger-signature-hmacsha256": signature}, body)


def test_a_trigger_signature_is_not_accepted_on_a_run_object() -> None:
    body = json.dumps(RETRIEVED).encode()
    with pytest.raises(SignatureError, match="alert payloads only"):
        authenticate(CONFIG, {"x-trigger-signature-hmacsha256": trigger_signature(body)}, body)


def test_a_trigger_signed_body_that_is_not_json_is_left_to_the_parser() -> None:
    body = b"{not json"
    authenticate(CONFIG, {"x-trigger-signature-hmacsha256": trigger_signature(body)}, body)


@pytest.mark.parametrize("payload", [RETRIEVED, {"runs": [RETRIEVED]}, ALERT_V2])
def test_standard_webhooks_signatures_are_accepted_for_any_shape(payload: dict[str, Any]) -> None:
    body, ts = json.dumps(payload).encode(), int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(SECRET, "msg_1", ts, body),
    }
    authenticate(CONFIG, headers, body)
    headers["webhook-signature"] = sign("whsec_YW5vdGhlci1zZWNyZXQ", "msg_1", ts, body)
    with pytest.raises(SignatureError, match="no signature matches"):
        authenticate(CONFIG, headers, body)


def test_no_signature_at_all_is_rejected() -> None:
    with pytest.raises(SignatureError, match="missing webhook-id"):
        authenticate(CONFIG, {}, json.dumps(ALERT_V2).encode())


def test_while_secrets_rotate_a_trigger_signature_with_either_is_accepted() -> None:
    body = json.dumps(ALERT_V2).encode()
    rotating = replace(CONFIG, webhook_secrets=("trigger-new-secret", SECRET))
    for secret in rotating.webhook_secrets:
        authenticate(rotating, {"x-trigger-signature-hmacsha256": trigger_signature(body, secret)}, body)
    with pytest.raises(SignatureError, match="does not match"):
        authenticate(rotating, {"x-trigger-signature-hmacsha256": trigger_signature(body, "other")}, body)


def test_a_trigger_signature_needs_a_secret() -> None:
    body = json.dumps(ALERT_V2).encode()
    unsigned = SourceConfig(name="trigger", kind="triggerdev", base_url="x")
    with pytest.raises(SignatureError, match="no webhook_secret"):
        authenticate(unsigned, {"x-trigger-signature-hmacsha256": trigger_signature(body, "")}, body)


# -- options --------------------------------------------------------------------------------------------


def test_options_defaults_and_durations() -> None:
    assert TriggerOptions.of(config()) == TriggerOptions(None, 86400.0, 300.0)
    parsed = TriggerOptions.of(config(project_ref="proj_abc", sweep_window="2h", sweep_every=90))
    assert parsed == TriggerOptions("proj_abc", 7200.0, 90.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"project_ref": "proj abc/../x"}, "project_ref must look like proj_abc123"),
        ({"project_ref": 12}, "project_ref must look like"),
        ({"sweep_window": "soon"}, "sweep_window: expected a duration"),
        ({"sweep_every": True}, "sweep_every: expected a duration"),
        ({"sweep_every": 0}, "sweep_every must be at least"),
        ({"sweep_window": "5m", "sweep_every": "10m"}, "sweep_window .300s. must be longer than sweep_every"),
    ],
)
def test_invalid_options_are_rejected_when_the_rules_load(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        TriggerOptions.of(config(**options))
    rules = tmp_path / "rules.yaml"
    lines = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in options.items())
    rules.write_text(f"sources:\n  trigger:\n    kind: triggerdev\n{lines}")
    with pytest.raises(ConfigError, match=f"rules.yaml:2: source 'trigger': {message}"):
        load_ruleset(rules)


# -- rate limits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-ratelimit-reset": str(int((NOW.timestamp() + 4.5) * 1000))}, b"", 4.5),
        ({"x-ratelimit-reset": str(int((NOW.timestamp() + 4.5) * 1000)), "retry-after": "60"}, b"", 4.5),
        ({"x-ratelimit-reset": str(int((NOW.timestamp() - 9) * 1000)), "retry-after": "7"}, b"", 7.0),
        ({"retry-after": "7"}, b"", 7.0),
        ({"x-ratelimit-reset": str(int((NOW.timestamp() - 1) * 1000))}, b"", 0.0),
        ({}, b'{"title": "Rate Limit Exceeded", "secondsUntilReset": 3}', 3.0),
        ({"x-ratelimit-reset": str(int((NOW.timestamp() + 86400) * 1000))}, b"", 600.0),
        ({"x-ratelimit-reset": "soon"}, b"<html>", DEFAULT_RETRY_AFTER),
        ({}, b'{"secondsUntilReset": -1}', DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_a_429(headers: dict[str, str], body: bytes, expected: float) -> None:
    assert retry_after_429(headers, body, NOW) == pytest.approx(expected)


def test_the_budget_pauses_at_its_reserve_until_the_reset() -> None:
    now = NOW.timestamp()
    budget = RateBudget()
    assert budget.pause(now) == 0  # nothing known yet
    reset = str(int((now + 8) * 1000))
    budget.update({"x-ratelimit-limit": "1500", "x-ratelimit-remaining": "76", "x-ratelimit-reset": reset})
    assert budget.pause(now) == 0  # 76 > 5% of 1500
    budget.spend()
    assert budget.remaining == 75 and budget.pause(now) == pytest.approx(8.0)
    assert budget.pause(now + 9) == 0  # the window has reset
    small = RateBudget()
    small.update({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "11", "x-ratelimit-reset": reset})
    assert small.pause(now) == 0
    small.spend()
    assert small.pause(now) == pytest.approx(8.0)  # at least 10 kept back


def test_within_one_window_what_is_left_only_goes_down() -> None:
    reset = str(int((NOW.timestamp() + 8) * 1000))
    budget = RateBudget()
    budget.update({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "50", "x-ratelimit-reset": reset})
    budget.spend()
    budget.spend()  # two requests in flight side by side
    budget.update({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "49", "x-ratelimit-reset": reset})
    assert budget.remaining == 48  # the first answer does not give back the second's spend
    later = str(int((NOW.timestamp() + 68) * 1000))
    budget.update({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99", "x-ratelimit-reset": later})
    assert budget.remaining == 99  # a new window starts whole


def test_sources_with_the_same_key_share_a_budget() -> None:
    state = SourceState()
    a = state.budget("https://api.trigger.dev", "tr_prod_shared_1")
    assert a is state.budget("https://api.trigger.dev", "tr_prod_shared_1")
    assert a is not state.budget("https://api.trigger.dev", "tr_prod_other_1")


def test_dates_are_sent_as_the_sdk_sends_them() -> None:
    assert iso(NOW - timedelta(hours=1)) == "2026-11-25T11:00:00.000Z"
