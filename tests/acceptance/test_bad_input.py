"""Bad input over HTTP: a 4xx JSON answer naming the problem, never a 500, and nothing stored.

One relay with a source of each kind (no webhook_secret: loopback pushes are accepted). Each
kind has a valid body with slots; a case fills one slot with a value JSON allows but the
relay cannot hold (400) or a run cannot use (422).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.harness import RunningRelay, running_relay

TRIGGER_SECRET = "trigger-secret-for-bad-input"
RULES = """
sources:
  recoup: {kind: recoup}
  trigger: {kind: triggerdev}
  wisp: {kind: taskrunner}
  signed: {kind: triggerdev, webhook_secret: "@SECRET@"}
channels:
  console: {kind: console}
rules:
  - name: everything
    match: {}
    first_seen: always
    notify: [console]
""".replace("@SECRET@", TRIGGER_SECRET)

# per source: a body with @TEXT@ (inside a kept string), @NUMBER@, @NESTED@ and @TIME@ slots
TEMPLATES = {
    "recoup": '{"id": "run_1", "taskIdentifier": "create-@TEXT@", "status": "COMPLETED",'
    ' "updatedAt": @TIME@, "durationMs": @NUMBER@, "metadata": {"deep": @NESTED@}}',
    "trigger": '{"id": "@ID@", "webhookVersion": "v1", "type": "alert.run.failed", "object": {'
    '"task": {"id": "send-@TEXT@"}, "run": {"id": "run_2", "number": @NUMBER@, "status": "FAILED",'
    ' "completedAt": @TIME@, "error": {"message": "boom"}, "machine": @NESTED@}}}',
    "wisp": '{"id": "01JXYZ0000000000000000000A", "task_name": "backup-@TEXT@", "status": "ended",'
    ' "end_reason": "failed", "exit_code": @NUMBER@, "end_at": @TIME@, "labels": @NESTED@}',
}
VALID = {"TEXT": "job", "NUMBER": "7", "NESTED": '{"a": [1, 2]}', "TIME": '"2026-11-25T12:00:00Z"'}

# (slot, raw JSON text, status, words the error must contain)
CASES = [
    ("NESTED", "[" * 5000 + "]" * 5000, 400, "nested deeper than 64"),
    ("NESTED", "[" * 100 + "]" * 100, 400, "nested deeper than 64"),
    ("NUMBER", "1" * 5000, 400, "number out of range"),
    ("NUMBER", "9" * 30, 400, "number out of range"),
    ("NUMBER", "-1e999", 400, "number out of range"),
    ("NUMBER", "NaN", 400, "NaN"),
    ("TEXT", "\\ud800", 400, "lone surrogate"),
    ("TEXT", "\\udfff\\ud800", 400, "lone surrogate"),
    ("TEXT", "\\u0000", 400, "NUL"),
    ("TIME", '"99999-01-01T00:00:00Z"', 422, "not an ISO 8601"),
    ("TIME", '"2026-13-45T00:00:00Z"', 422, "not an ISO 8601"),
    ("TIME", '"1799-12-31T23:59:59Z"', 422, "outside the years 1800..2199"),
    ("TIME", '"2200-01-01T00:00:00Z"', 422, "outside the years 1800..2199"),
    ("TIME", '"9999-12-31T23:00:00-05:00"', 422, "outside the years 1800..2199"),
    ("TIME", '"0001-01-01T00:30:00+01:00"', 422, "outside the years 1800..2199"),
    ("TIME", "-62135596800", 422, "ISO 8601 string"),
]


def body(source: str, **slots: str) -> bytes:
    text = TEMPLATES[source].replace("@ID@", f"alert_{uuid.uuid4().hex}")
    for slot, value in {**VALID, **slots}.items():
        text = text.replace(f"@{slot}@", value)
    return text.encode()


@pytest.fixture
async def relay(tmp_path: Path, database_url: str) -> AsyncIterator[RunningRelay]:
    config = tmp_path / "rules.yaml"
    config.write_text(RULES)
    async with running_relay(config, database_url, pollers=False) as running:
        yield running


def error_of(answer: httpx.Response) -> str:
    json_answer = answer.headers.get("content-type") == "application/json"
    return str(answer.json().get("error", "")) if json_answer else ""


async def assert_nothing_stored(relay: RunningRelay) -> None:
    assert (await relay.admin("runs"))["runs"] == []
    assert (await relay.admin("transitions"))["transitions"] == []
    assert (await relay.admin("deliveries"))["deliveries"] == []


@pytest.mark.parametrize("source", sorted(TEMPLATES))
async def test_the_valid_body_of_each_kind_is_accepted(relay: RunningRelay, source: str) -> None:
    answer = await relay.client.post(f"{relay.url}/hooks/{source}", content=body(source))
    assert answer.status_code == 202, answer.text
    assert answer.json()["transitions"] == 1


@pytest.mark.parametrize("source", sorted(TEMPLATES))
async def test_bad_values_get_a_4xx_naming_them_and_change_nothing(relay: RunningRelay, source: str) -> None:
    wrong = []
    for slot, value, status, words in CASES:
        answer = await relay.client.post(f"{relay.url}/hooks/{source}", content=body(source, **{slot: value}))
        if answer.status_code != status or words not in error_of(answer):
            wrong.append((slot, value[:40], answer.status_code, answer.text[:200]))
    assert wrong == []
    await assert_nothing_stored(relay)


async def test_a_trigger_signed_body_with_bad_values_gets_a_400(relay: RunningRelay) -> None:
    """The Trigger.dev signature check reads the body to see whether it is an alert."""
    for value in ("1" * 5000, "[" * 5000 + "]" * 5000, "1e999"):
        raw = body("trigger", NUMBER=value)
        signature = hmac.new(TRIGGER_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        answer = await relay.client.post(
            f"{relay.url}/hooks/signed", content=raw, headers={"x-trigger-signature-hmacsha256": signature}
        )
        assert answer.status_code == 400 and "JSON" in error_of(answer), answer.text
    await assert_nothing_stored(relay)


async def test_unknown_sources_add_no_metric_series(relay: RunningRelay) -> None:
    before = await series(relay)
    for n in range(100):
        answer = await relay.client.post(f"{relay.url}/hooks/nope-{n}", content=b"{}")
        assert answer.status_code == 404
    after = await series(relay)
    rejected = ("relay_webhooks_rejected_total", (("reason", "404"), ("source", "unknown")))
    assert set(after) - set(before) <= {rejected}  # global registry: earlier tests may have it
    assert after[rejected] - before.get(rejected, 0.0) == 100


async def series(relay: RunningRelay) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, by name and labels."""
    text = (await relay.client.get(f"{relay.url}/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")  # when each series began: one per series anyway
    }


TASK = {"matchers": {"task": "x"}}
ADMIN_CASES = [
    ("GET", "runs?limit=-1", None, "limit must be a whole number from 1 to 1000"),
    ("GET", "runs?limit=1000000000000000000000", None, "limit must be a whole number from 1 to 1000"),
    ("GET", "transitions?limit=ten", None, "limit must be a whole number from 1 to 1000"),
    ("GET", "deliveries?status=lost", None, "unknown status 'lost' (expected one of: pending"),
    ("GET", "deliveries?stauts=dead", None, "unknown query parameter 'stauts' (expected: status, limit)"),
    ("GET", "silences?all=maybe", None, "all must be true or false"),
    ("POST", "silences", {**TASK, "duration": "99999999999d"}, "at most 365d"),
    ("POST", "silences", {**TASK, "duration": -5}, "more than 0"),
    ("POST", "silences", {**TASK, "duration": ["2h"]}, "duration must be like 2h"),
    ("POST", "silences", {**TASK, "ends_at": "99999-01-01T00:00:00Z"}, "ends_at is not an"),
    ("POST", "silences", {**TASK, "ends_at": "2026-13-45T00:00:00Z"}, "ends_at is not an"),
    ("POST", "silences", {**TASK, "ends_at": "9999-12-31T23:00:00-05:00"}, "outside the years 1800..2199"),
    ("POST", "silences", {**TASK, "starts_at": 5, "duration": "1h"}, "must be a string"),
    ("POST", "silences", {"matchers": {"task": 5}, "duration": "1h"}, "matcher values must be non-empty"),
    ("POST", "silences", {**TASK, "duration": "1h", "colour": 1}, "unknown field 'colour'"),
    ("POST", "silences", [1, 2], "the body must be a JSON object"),
    ("POST", "preview", {"rule": 7, "run_id": "r"}, "rule must be a string"),
    ("POST", "preview", {"rule": "everything"}, 'expected {"rule": NAME, "run": {...}}'),
    ("POST", "preview", {"rule": "everything", "run": "not a run"}, "run must be a run object"),
    ("POST", "preview", {"rule": "everything", "run_id": "r", "source": [1]}, "source must be a string"),
]


async def test_admin_parameters_and_bodies_are_checked_with_a_422(relay: RunningRelay) -> None:
    auth = {"authorization": "Bearer admin-token-for-tests"}
    wrong = []
    for method, path, payload, words in ADMIN_CASES:
        answer = await relay.client.request(method, f"{relay.url}/admin/{path}", json=payload, headers=auth)
        if answer.status_code != 422 or words not in error_of(answer):
            wrong.append((method, path, answer.status_code, answer.text[:200]))
    assert wrong == []
    assert (await relay.admin("silences?all=true"))["silences"] == []


async def test_admin_bodies_that_are_not_json_the_relay_takes_are_a_400(relay: RunningRelay) -> None:
    auth = {"authorization": "Bearer admin-token-for-tests"}
    for raw in (b'{"matchers": ', b'{"matchers": {"task": "a\\u0000"}, "duration": "1h"}', b"[" * 5000):
        answer = await relay.client.post(f"{relay.url}/admin/silences", content=raw, headers=auth)
        assert answer.status_code == 400 and "JSON" in error_of(answer), answer.text
    assert (await relay.admin("silences?all=true"))["silences"] == []


async def test_a_nul_in_an_admin_address_finds_nothing_and_is_never_a_500(relay: RunningRelay) -> None:
    """PostgreSQL holds no NUL in text (its driver raised: a 500); no stored key has one."""
    auth = {"authorization": "Bearer admin-token-for-tests"}
    await relay.client.post(f"{relay.url}/hooks/recoup", content=body("recoup"))
    cases = [
        ("GET", "runs?source=%00", 422),
        ("GET", "runs?source=recoup%00x", 422),
        ("GET", "deliveries?status=sent&limit=5%00", 422),
        ("GET", "deliveries/%00", 404),
        ("POST", "deliveries/a%00b/replay", 404),
        ("DELETE", "silences/%00", 404),
    ]
    for method, path, status in cases:
        answer = await relay.client.request(method, f"{relay.url}/admin/{path}", headers=auth)
        assert answer.status_code == status and "NUL" in error_of(answer), (path, answer.text)
    assert len((await relay.admin("runs"))["runs"]) == 1  # the store still answers
