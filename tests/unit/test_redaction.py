import io
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from relay.config import load_ruleset
from relay.delivery.grouping import merge
from relay.digests import DigestSpec
from relay.dispatch import plan, plan_stuck
from relay.errors import ConfigError
from relay.ids import new_id
from relay.models import RunError, RunState, Transition, Via
from relay.observability import log_handler
from relay.redaction import (
    DEFAULT,
    MASK,
    Redaction,
    compile_patterns,
    redact_run,
)
from relay.render.default import NOTE
from relay.render.digest import digest_message
from tests.builders import T0, snap

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.fake-signature-not-real"
SIGNED_VIDEO = f"https://x.supabase.co/storage/v1/object/sign/v/final.mp4?token={JWT}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openai said no to sk-proj-FAKE0000000000000000", "openai said no to sk-***"),
        ("key sk-fake-0000000000000000 rejected", "key sk-*** rejected"),
        ("stripe sk_test_FAKE00000000", "stripe sk_test_***"),
        ("header Authorization: Bearer abc.DEF-123_ghi~jkl", "header Authorization: Bearer ***"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", "authorization: Basic ***"),
        ("aws AKIA0000EXAMPLE00000 denied", "aws AKIA*** denied"),
        ("sts ASIA0000EXAMPLE00000 expired", "sts ASIA*** expired"),
        (f"token {JWT} expired", "token eyJ*** expired"),
        ("secret whsec_ZmFrZS1zZWNyZXQtbm90LXJlYWw=", "secret whsec_***"),
        ("trigger tr_dev_FAKE00000000 and tr_prod_FAKE00000001", "trigger tr_dev_*** and tr_prod_***"),
        ("tr_FAKE0000000000", "tr_***"),
        ("push ghp_FAKE000000000000000000000000000000", "push ghp_***"),
        ("postgres://relay:hunter2@db.internal:5432/app", "postgres://***@db.internal:5432/app"),
        ("GET https://user:pw@host/x failed", "GET https://***@host/x failed"),
        (
            "post to https://hooks.slack.com/services/T0/B0/XyZ failed",
            "post to https://hooks.slack.com/services/*** failed",
        ),
        ("dsn password=s3cr3t host=db", "dsn password=*** host=db"),
        ('{"api_key": "abc123def"}', '{"api_key": "***"}'),
        ("https://api.example.com/v1?api_key=abc123&page=2", "https://api.example.com/v1?api_key=***&page=2"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            f"-----BEGIN RSA PRIVATE KEY-----{MASK}",
        ),
    ],
)
def test_secrets_are_masked_keeping_what_they_were(text: str, expected: str) -> None:
    assert DEFAULT.text(text) == expected
    assert DEFAULT.text(expected) == expected  # masking twice changes nothing more


@pytest.mark.parametrize(
    "text",
    [
        "skipping task-name: sk-learn is not installed",
        "risk-assessment-pipeline failed on disk-usage-check",
        "see https://example.com/runs/run_1?page=2#top and http://127.0.0.1:8080/hooks/recoup",
        "mail team@example.com about the create-content run",
        "Bearer tokens are required for authentication",
        "Basic authentication failed; the password must be at least 8 characters",
        "TypeError: Cannot read properties of undefined (reading 'token')",
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span tr_rows",
        "data:video/mp4;base64,AAAAIGZ0eXBpc29t",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert DEFAULT.text(text) == text


def test_a_run_is_redacted_everywhere_but_its_ids_and_video_link() -> None:
    run = snap(
        "FAILED",
        task="sync-sk-proj-FAKE0000000000000000",
        tags=("key:AKIA0000EXAMPLE00000",),
        url="https://admin:pw@dash.example.com/runs/run_1",
        metadata={"headers": {"Authorization": "Basic abc"}, "env": ["DB=postgres://u:p@db/x"], "n": 3},
        output={"video": {"signedUrl": SIGNED_VIDEO}, "apiKey": "plain", "log": f"auth {JWT}"},
        error=RunError(f"401 for {JWT}", "AuthError sk-fake-0000000000000000", f"at call (Bearer {JWT})"),
    )
    redacted, changed = redact_run(run, DEFAULT)
    assert changed
    assert (redacted.source, redacted.run_id, redacted.status, redacted.phase) == (
        run.source,
        run.run_id,
        run.status,
        run.phase,
    )
    assert redacted.task == "sync-sk-***" and redacted.tags == ("key:AKIA***",)
    assert redacted.url == "https://***@dash.example.com/runs/run_1"
    assert redacted.metadata == {
        "headers": {"Authorization": MASK},
        "env": ["DB=postgres://***@db/x"],
        "n": 3,
    }
    assert redacted.output == {"video": {"signedUrl": SIGNED_VIDEO}, "apiKey": MASK, "log": "auth eyJ***"}
    assert redacted.error == RunError("401 for eyJ***", "AuthError sk-***", "at call (Bearer ***)")
    assert JWT not in repr(redacted).replace(SIGNED_VIDEO, "")


def test_a_clean_run_is_returned_as_it_is() -> None:
    run = snap("FAILED", error="ffmpeg exited with code 1", output={"videoSourceUrl": "https://v/x.mp4"})
    assert redact_run(run, DEFAULT) == (run, False)
    assert redact_run(run, DEFAULT)[0] is run  # not a copy: the common case costs none


def test_a_secret_field_already_masked_is_left_as_it_is_by_extra_patterns_too() -> None:
    run = snap("FAILED", metadata={"password": MASK, "token": "", "note": "a mask: ***"})
    assert redact_run(run, Redaction(patterns=compile_patterns([r"\*"]))) == (
        snap("FAILED", metadata={"password": MASK, "token": "", "note": "a mask: *********"}),
        True,
    )


def test_what_is_masked_is_copied_and_the_original_run_left_untouched() -> None:
    meta = {"a": {"b": [1, "Bearer abcdefghijklmnopQ123"]}, "c": {"d": "plain"}}
    run = snap("FAILED", metadata=meta)
    redacted, changed = redact_run(run, DEFAULT)
    assert changed and redacted.metadata == {"a": {"b": [1, "Bearer ***"]}, "c": {"d": "plain"}}
    assert run.metadata == {"a": {"b": [1, "Bearer abcdefghijklmnopQ123"]}, "c": {"d": "plain"}}


def test_off_changes_nothing_and_extra_patterns_add_to_the_built_in_ones() -> None:
    run = snap("FAILED", error="customer 4111-1111-1111-1111 key sk-fake-0000000000000000")
    assert redact_run(run, Redaction(enabled=False)) == (run, False)
    cards = Redaction(patterns=compile_patterns([r"\b(?:\d{4}-){3}\d{4}\b"]))
    redacted, changed = redact_run(run, cards)
    assert changed and redacted.error is not None
    assert redacted.error.message == "customer *** key sk-***"


def test_an_invalid_pattern_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("invalid regular expression 'sk-[': unterminated")):
        compile_patterns(["ok", "sk-["])


def test_log_lines_pass_the_built_in_patterns() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    try:
        logger.warning("poll_failed reason=%s", "GET https://u:secret-pw@api.example.com said 401")
        logger.warning("transition_observed task=%s", "create-content")
    finally:
        logger.handlers.clear()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(" poll_failed reason=GET https://***@api.example.com said 401")
    assert lines[1].endswith(" transition_observed task=create-content")


RULES = """
sources: {recoup: {kind: recoup}}
channels: {console: {kind: console}}
redaction:
  enabled: %s
  patterns: [%s]
rules:
  - {name: default, notify: [console]}
  - {name: raw, notify: [console], redact: false}
  - {name: masked, notify: [console], redact: true}
"""


def test_rules_yaml_sets_the_policy_and_a_rule_may_switch_it(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES % ("true", r"'\bCUST-\d+'"))
    rules = {r.name: r.redaction for r in load_ruleset(path).rules}
    assert [p.pattern for p in rules["default"].patterns] == [r"\bCUST-\d+"]
    assert (rules["default"].enabled, rules["raw"].enabled, rules["masked"].enabled) == (True, False, True)
    path.write_text(RULES % ("false", ""))
    ruleset = load_ruleset(path)
    assert not ruleset.redaction.enabled
    assert [r.redaction.enabled for r in ruleset.rules] == [False, False, True]


def test_redaction_is_on_without_a_word_in_rules_yaml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("channels: {c: {kind: console}}\nrules: [{name: r, notify: [c]}]\n")
    assert load_ruleset(path).rules[0].redaction == DEFAULT


def test_an_invalid_pattern_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES % ("true", "'ok', 'sk-['"))
    with pytest.raises(ConfigError) as caught:
        load_ruleset(path)
    assert str(caught.value).startswith(
        f"{path}:6: redaction: patterns: invalid regular expression 'sk-[': unterminated"
    )


PLANNED = """
sources: {recoup: {kind: recoup}}
channels: {hook: {kind: webhook, url: "http://127.0.0.1:9/x"}}
rules:
  - {name: digest, notify: [hook], digest: {cron: "0 9 * * *"}}
  - {name: once, notify: [hook], once_per: {key: "{{ run.error.message }}", period: 1h}}
  - {name: stuck, match: {phase: running}, notify: [hook], stuck_after: 30m}
"""


def test_digests_once_per_keys_and_stuck_alerts_see_the_masked_run(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(PLANNED)
    ruleset = load_ruleset(path)
    digest, once, stuck = ruleset.rules
    run = snap("FAILED", error=f"token {JWT} expired")
    t = Transition("t", "recoup", "run_1", None, run.phase, None, run.status, T0, Via.POLL)
    planned = plan(t, run, [digest, once], ruleset.channels, now=T0, ids=new_id)
    (item,) = planned.digest_items
    assert item.redacted and item.outcome == "Error: token eyJ*** expired"
    assert NOTE in digest_message("digest", DigestSpec("0 9 * * *"), T0, [item]).body
    (delivery,) = planned.deliveries
    assert JWT not in delivery.idempotency_key and "eyJ***" in delivery.idempotency_key

    running = snap("EXECUTING", task=f"sync {JWT}")
    later = T0 + timedelta(hours=1)
    found = plan_stuck(RunState(running, T0, T0), stuck, ruleset.channels, now=later, ids=new_id)
    assert found is not None
    (alert,) = found[1]
    assert alert.message.title == "sync eyJ*** stuck in EXECUTING for 1h 00m (recoup)"
    assert alert.payload["redacted"] and NOTE in alert.message.body


def test_a_group_with_a_masked_member_says_so(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(PLANNED.replace("digest: {cron: \"0 9 * * *\"}", "group_window: 1m"))
    ruleset, members = load_ruleset(path), []
    for run in (snap("FAILED", run_id="a", error=f"token {JWT} expired"), snap("FAILED", run_id="b")):
        t = Transition(run.run_id, "recoup", run.run_id, None, run.phase, None, run.status, T0, Via.POLL)
        members += plan(t, run, [ruleset.rules[0]], ruleset.channels, now=T0, ids=new_id).deliveries
    grouped = merge(members).message
    assert grouped.body.splitlines()[0] == NOTE and [row[0] for row in grouped.rows[1:]] == [
        m.message.title for m in members
    ]

