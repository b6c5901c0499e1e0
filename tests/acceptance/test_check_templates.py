"""`relay check` renders every template on sample runs of every status of every source kind,
and names the file and line of each one that fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.acceptance.harness import ROOT

RULES = """\
sources:
  recoup: {kind: recoup}
  trig: {kind: triggerdev}
  cron-box: {kind: taskrunner}
channels: {console: {kind: console}, hook: {kind: webhook, url: "http://127.0.0.1:9/x"}}
rules:
  - name: fine
    match: {phase: terminal}
    notify: [console, hook]
    template:
      title: "{{ run.task }} {{ run.status | lower }}"
      body: "{{ error.name ~ ': ' ~ error.message if error else video_url }} {{ run.metadata }}"
      webhook: {body: "{{ run.tags | join(', ') }} {{ (run.duration_ms or 0) / 1000 }}s"}
  - name: exit-codes
    match: {phase: problem}
    notify: [console, hook]
    template:
      title: "{{ run.task }} failed"
      webhook:
        body: "exit {{ run.metadata.exit_code + 1 }}"
  - name: completed-only
    match: {status: COMPLETED}
    notify: [console]
    template: {body: "{{ run.output.captionText + '!' }}"}
  - name: per-task
    notify: [console]
    once_per: {key: "{{ run.task + 1 }}", period: 1h}
"""


def relay_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_check_names_each_failing_template_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    result = relay_check(path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        # recoup and Trigger.dev runs have no exit code: only RunWisp's do
        f"{path}:19: webhook template of rule 'exit-codes' fails for a FAILED recoup run:"
        " UndefinedError: 'dict object' has no attribute 'exit_code' (and 12 more sample runs)",
        f"{path}:27: once_per key of rule 'per-task' fails for a DELAYED recoup run:"
        ' TypeError: can only concatenate str (not "int") to str (and 49 more sample runs)',
    ]


def test_check_passes_when_every_template_renders(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.split("  - name: exit-codes")[0])
    result = relay_check(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok (3 sources, 2 channels, 1 rules)")
