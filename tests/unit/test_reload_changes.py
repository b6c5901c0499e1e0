"""What a reload reopens: channels and sources configured differently, and nothing else."""

from __future__ import annotations

from pathlib import Path

from relay.config import RuleSet, load_ruleset
from relay.rules.changes import Changes, Diff, changes

BASE = """
sources:
  recoup: {kind: recoup}
channels:
  ops: {kind: console}
  crm: {kind: webhook, url: "http://127.0.0.1:9/runs"}
rules: [{name: all, match: {phase: terminal}, notify: [ops, crm]}]
"""


def ruleset(tmp_path: Path, text: str) -> RuleSet:
    path = tmp_path / f"rules{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text)
    return load_ruleset(path)


def test_moved_lines_and_edited_rules_reopen_nothing(tmp_path: Path) -> None:
    moved = "\n\n# a comment\n" + BASE.replace("notify: [ops, crm]", "notify: [ops]")
    assert changes(ruleset(tmp_path, BASE), ruleset(tmp_path, moved)) == Changes(Diff(), Diff())


def test_added_removed_and_changed_channels_and_sources(tmp_path: Path) -> None:
    new = (
        BASE.replace("recoup: {kind: recoup}", "tr: {kind: taskrunner}")
        .replace("http://127.0.0.1:9/runs", "http://127.0.0.1:9/other")
        .replace("ops: {kind: console}", "ops: {kind: console}\n  log: {kind: console}")
    )
    found = changes(ruleset(tmp_path, BASE), ruleset(tmp_path, new))
    assert found.channels == Diff(added=frozenset({"log"}), changed=frozenset({"crm"}))
    assert found.sources == Diff(added=frozenset({"tr"}), removed=frozenset({"recoup"}))
    assert found.summary() == "channels=+log,~crm sources=+tr,-recoup"


def test_a_new_delivery_timeout_reopens_every_channel_kept(tmp_path: Path) -> None:
    slower = BASE + "delivery: {timeout: 30s}\n"
    found = changes(ruleset(tmp_path, BASE), ruleset(tmp_path, slower))
    assert found.channels.changed == {"ops", "crm"} and not found.sources.changed
