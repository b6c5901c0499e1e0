from pathlib import Path

import pytest

from relay import secrets
from relay.config import load_ruleset
from relay.errors import ConfigError, ConfigErrors

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_ruleset(write(tmp_path, text))
    return str(caught.value)


def test_the_example_rules_file_loads_without_any_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RECOUP_API_KEY", "SLACK_WEBHOOK_URL", "RELAY_EMAIL_URL", "RECOUP_WEBHOOK_SECRET"):
        monkeypatch.delenv(var, raising=False)
    ruleset = load_ruleset(ROOT / "rules.yaml")
    assert set(ruleset.sources) == {"recoup"} and not ruleset.sources["recoup"].api_key
    assert ruleset.channels["console"].enabled and not ruleset.channels["slack"].enabled
    assert [r.name for r in ruleset.rules] == [
        "video-ready",
        "failures",
        "task-switched-off",
        "back-to-normal",
        "stuck",
        "morning-digest",
    ]


def test_env_substitution_and_secret_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.slack.com/services/XYZ/abc/secretpart")
    ruleset = load_ruleset(write(tmp_path, "channels:\n  s: ${HOOK}\n"))
    assert ruleset.channels["s"].kind == "slack"
    assert (
        secrets.redact("posting to https://hooks.slack.com/services/XYZ/abc/secretpart") == "posting to ***"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  a:\n    kind: nope\n", "rules.yaml:3: source 'a': kind must be one of"),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: r\n    notify: [missing]\n",
            "rules.yaml:5: rule 'r': unknown channel 'missing'",
        ),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: r\n    match: {phase: done}\n"
            "    notify: [c]\n",
            "rules.yaml:5: rule 'r': match: phase: unknown phase 'done'",
        ),
        ("rules:\n  - name: r\n    notify: []\n", "rules.yaml:3: rule 'r': notify must list"),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: r\n    notify: [c]\n    colour: red\n",
            "rules.yaml:6: rule 'r': unknown option 'colour'",
        ),
        ("channels:\n  c: ${NOT_SET_ANYWHERE}\n", "rules.yaml:2: environment variable NOT_SET_ANYWHERE"),
        ("channels: [\n", "rules.yaml:2: YAML syntax: the file ends in the middle of a value"),
        ("sources:\n  a: {poll_every: soon}\n", "rules.yaml:2: source 'a': poll_every: expected a duration"),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: r\n    notify: [c]\n"
            "    template: {title: '{{ run.task '}\n",
            "rules.yaml:6: rule 'r' template: template line 1",
        ),
        ("channels:\n  c: {kind: console}\n  c: {kind: console}\n", "rules.yaml:3: duplicate key 'c'"),
        ("sources:\n  a:\n    poll_every: 0s\n", "rules.yaml:3: source 'a': poll_every must be at least"),
        ("sources:\n  r:\n    kind: taskrunner\n    log_lines: lots\n", "rules.yaml:2: source 'r': "),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: d\n    notify: [c]\n    digest:\n"
            "      cron: every morning\n",
            "rules.yaml:7: rule 'd' digest: cron must be a cron expression",
        ),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: d\n    notify: [c]\n    digest:\n"
            "      cron: '0 9 * * *'\n      tz: Mars/Olympus\n",
            "rules.yaml:8: rule 'd' digest: unknown time zone",
        ),
        (
            "channels:\n  c:\n    kind: console\n    rate_limit: lots\n",
            "rules.yaml:4: channel 'c': rate_limit: expected",
        ),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: o\n    notify: [c]\n    once_per:\n"
            "      key: '{{ run.task }}'\n",
            "rules.yaml:7: rule 'o' once_per: period must be",
        ),
        (
            "channels:\n  c: {kind: console}\nrules:\n  - name: t\n    notify: [c]\n    template:\n"
            "      slack: {colour: red}\n",
            "rules.yaml:7: rule 't' template slack: unknown option 'colour'",
        ),
    ],
)
def test_invalid_files_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_every_mistake_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
sources:
  recoup:
    kind: recoup
    limt: 5
  cron-a: {kind: taskrunner, log_lines: lots}
  cron-b: {kind: taskrunner, stream: maybe}
channels:
  hook: {kind: webhok, url: "http://127.0.0.1:9/runs"}
rules:
  - name: a
    match: {status: DISABLD}
    notify: [hook]
  - name: b
    match: {phase: faild}
    notify: [hook]
delivery: {timout: 3s}
"""
    with pytest.raises(ConfigErrors) as caught:
        load_ruleset(write(tmp_path, text))
    # the rules name the broken channel: it is reported once, not once more per rule
    assert [f"{e.line}: {e.message}" for e in caught.value.errors] == [
        "4: source 'recoup': unknown option 'limt' (did you mean 'limit'?)",
        "5: source 'cron-a': source 'cron-a': option log_lines must be a whole number from 0 to 1000,"
        " got 'lots'",
        "6: source 'cron-b': source 'cron-b': option stream must be true or false, got 'maybe'",
        "8: channel 'hook': kind must be one of console, slack, webhook, apprise, got 'webhok'"
        " (did you mean 'webhook'?)",
        "11: rule 'a': match: status: unknown status 'DISABLD' (did you mean 'DISABLED'?)",
        "14: rule 'b': match: phase: unknown phase 'faild' (did you mean 'failed'?)",
        "16: delivery: unknown option 'timout' (did you mean 'timeout'?)",
    ]
    assert str(caught.value).splitlines() == [str(e) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("{status: sucess}", "status: unknown status 'sucess' (did you mean 'success'?)"),
        ("{status: COMPLETD}", "status: unknown status 'COMPLETD' (did you mean 'COMPLETED'?)"),
        (
            "{from_status: [QUEUED, EXECUTIN]}",
            "from_status: unknown status 'EXECUTIN' (did you mean 'EXECUTING'?)",
        ),
        ("{status: BANANA}", "status: unknown status 'BANANA' (no source kind reports it)"),
        ("{phase: Succeeded}", "phase: unknown phase 'Succeeded' (did you mean 'succeeded'?)"),
        ("{taks: create-*}", "unknown condition 'taks' (did you mean 'task'?)"),
        ("{source: recop}", "unknown source 'recop' (did you mean 'recoup'?)"),
    ],
)
def test_a_near_miss_in_a_match_gets_a_did_you_mean(tmp_path: Path, match: str, expected: str) -> None:
    text = f"sources: {{recoup: {{}}}}\nchannels: {{c: {{}}}}\nrules:\n  - {{match: {match}, notify: [c]}}\n"
    assert f"rules.yaml:4: rule 'rule-1': match: {expected}" in error_of(tmp_path, text)


def test_statuses_match_in_any_case_and_from_status_knows_unknown(tmp_path: Path) -> None:
    text = (
        "channels: {c: {kind: console}}\nrules:\n"
        "  - {match: {status: completed, from_status: unknown}, notify: [c]}\n"
        "  - {match: {status: [DISABLED, success]}, notify: [c]}\n"
    )
    assert len(load_ruleset(write(tmp_path, text)).rules) == 2


def test_errors_show_the_variable_never_its_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOUP_API_KEY", "recoup-test-key-not-real")
    monkeypatch.setenv("SHORT", "ab")  # too short to be masked as a secret: still not shown
    text = """\
sources:
  a: {poll_every: "${RECOUP_API_KEY}"}
  b: {limit: "${SHORT}"}
channels:
  c: {kind: console, rate_limit: "${RECOUP_API_KEY}/m"}
rules:
  - {match: {status: "${SHORT}"}, notify: [c]}
"""
    assert [line.split("rules.yaml:")[1] for line in error_of(tmp_path, text).splitlines()] == [
        "2: source 'a': poll_every: expected a duration like 30s, 2m or 1h, got '${RECOUP_API_KEY}'",
        "3: source 'b': limit must be a int, got '${SHORT}'",
        "5: channel 'c': rate_limit: expected a rate like 10/min, 100/h or 5/s, got '${RECOUP_API_KEY}/m'",
        "7: rule 'rule-1': match: status: unknown status '${SHORT}' (no source kind reports it)",
    ]


def test_yaml_syntax_errors_are_one_plain_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "sources:\n  recoup:\n\tkind: recoup\n")
    assert message == (
        f"{tmp_path / 'rules.yaml'}:3: YAML syntax: found a tab character where indentation is expected"
        " (indent with spaces)"
    )


def test_every_variable_that_is_not_set_is_reported(tmp_path: Path) -> None:
    message = error_of(tmp_path, "channels:\n  a: ${NOT_SET_ONE}\n  b: ${NOT_SET_TWO}\n")
    assert [line.split("rules.yaml:")[1] for line in message.splitlines()] == [
        "2: environment variable NOT_SET_ONE is not set",
        "3: environment variable NOT_SET_TWO is not set",
    ]


def test_shutdown_grace(tmp_path: Path) -> None:
    assert load_ruleset(write(tmp_path, "delivery: {shutdown_grace: 500ms}\n")).delivery.shutdown_grace == 0.5
    assert load_ruleset(write(tmp_path, "{}\n")).delivery.shutdown_grace == 5.0


def test_delivery_durations_that_would_break_the_lease_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "delivery: {timeout: 0, shutdown_grace: -5}\n")
    assert message.endswith("rules.yaml:1: delivery: timeout: expected a duration above 0, got 0"), message
    message = error_of(tmp_path, "delivery: {schedule: [1s, -1]}\n")
    assert message.endswith("delivery: schedule: expected a duration of 0 or more, got -1"), message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_ruleset(tmp_path / "absent.yaml")


def test_delivery_policy(tmp_path: Path) -> None:
    ruleset = load_ruleset(write(tmp_path, "delivery:\n  schedule: [100ms, 1s, 2m]\n  quick_tries: 1\n"))
    assert ruleset.delivery.schedule == (0.1, 1.0, 120.0)
    assert ruleset.delivery.quick_tries == 1


def test_secrets_may_be_one_string_or_a_list_and_are_all_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_HOOK_KEY", "whsec_bmV3LWhvb2sta2V5")
    monkeypatch.delenv("UNSET_KEY", raising=False)
    text = (
        "sources:\n  r:\n    kind: recoup\n    webhook_secret:\n      - ${NEW_HOOK_KEY}\n"
        "      - b2xkLWhvb2sta2V5\n      - ${UNSET_KEY:-}\n"
        "  w: {kind: taskrunner, webhook_secret: 'plain bearer token!'}\n"
        "channels:\n  one: {kind: webhook, url: 'http://127.0.0.1:1/', secret: 'whsec_b25lLWtleQ'}\n"
        "  two: {kind: webhook, url: 'http://127.0.0.1:1/', secret: ['whsec_dHdvLWtleQ==', 'dGhyZWUta2V5']}\n"
    )
    ruleset = load_ruleset(write(tmp_path, text))
    assert ruleset.sources["r"].webhook_secrets == ("whsec_bmV3LWhvb2sta2V5", "b2xkLWhvb2sta2V5")
    assert ruleset.sources["w"].webhook_secrets == ("plain bearer token!",)  # a bearer token, not a key
    assert ruleset.channels["one"].secrets == ("whsec_b25lLWtleQ",)
    assert ruleset.channels["two"].secrets == ("whsec_dHdvLWtleQ==", "dGhyZWUta2V5")
    assert secrets.redact("b2xkLWhvb2sta2V5 dGhyZWUta2V5 whsec_b25lLWtleQ") == "*** *** ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  r:\n    kind: recoup\n    webhook_secret: abcde\n",
            "rules.yaml:4: source 'r': webhook_secret: not a Standard Webhooks secret: expected whsec_",
        ),
        (
            "sources:\n  r:\n    kind: recoup\n    webhook_secret: ['whsec_b2s', 'whsec_']\n",
            "rules.yaml:4: source 'r': webhook_secret #2: not a Standard Webhooks secret",
        ),
        (
            "channels:\n  c:\n    kind: webhook\n    url: http://127.0.0.1:1/\n    secret: sécret-clé\n",
            "rules.yaml:5: channel 'c': secret: not a Standard Webhooks secret",
        ),
        (
            "channels:\n  c:\n    kind: webhook\n    secret: [whsec_b2s, 42]\n",
            "rules.yaml:4: channel 'c': secret must be a string or a list of strings",
        ),
    ],
)
def test_a_secret_the_reference_library_cannot_read_is_refused_at_load(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = error_of(tmp_path, text)
    assert expected in message, message
    assert "abcde" not in message and "sécret" not in message and "b2s" not in message
