"""rules.yaml `retention:`: durations per kind of row, Retention's defaults when absent, and
errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config import load_ruleset
from relay.errors import ConfigError
from relay.models import Retention

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str) -> Retention:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_ruleset(path).retention


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_without_a_section_the_defaults_hold(tmp_path: Path) -> None:
    assert load(tmp_path, "channels: {}\n") == Retention()
    assert load(tmp_path, "retention:\n") == Retention()
    assert Retention().sent == 30 * 86400 and Retention().transitions == 90 * 86400


def test_durations_in_days_hours_and_seconds(tmp_path: Path) -> None:
    retention = load(tmp_path, "retention:\n  sent: 7d\n  dead: 36h\n  seen: 600\n")
    assert retention == Retention(sent=7 * 86400.0, dead=36 * 3600.0, seen=600.0)


def test_the_example_file_keeps_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    assert load_ruleset(ROOT / "rules.yaml").retention == Retention()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retention:\n  sent: 30x\n", "rules.yaml:2: retention: sent: expected a duration like 30s"),
        (
            "channels: {}\nretention:\n  dead: 0\n",
            "rules.yaml:3: retention: dead: expected a duration of at least 1m, such as 30d, got 0",
        ),
        ("retention:\n  sent: 30d\n  sents: 1d\n", "rules.yaml:3: retention: unknown option 'sents'"),
        ("retention: 30d\n", "rules.yaml:1: retention must be a mapping"),
    ],
)
def test_bad_values_name_the_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert expected in message, message
