from pathlib import Path

import pytest

from relay import secrets
from relay.errors import ConfigError
from relay.rules.config import load_ruleset

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


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_ruleset(tmp_path / "absent.yaml")


def test_delivery_policy(tmp_path: Path) -> None:
    ruleset = load_ruleset(write(tmp_path, "delivery:\n  schedule: [100ms, 1s, 2m]\n  quick_tries: 1\n"))
    assert ruleset.delivery.schedule == (0.1, 1.0, 120.0)
    assert ruleset.delivery.quick_tries == 1
