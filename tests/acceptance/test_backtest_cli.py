"""`relay backtest` and `relay preview` as a user runs them: a candidate rules file against the
runs recorded in the store (read only), and a preview that says why a rule does not match."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from relay.store import open_store
from tests.acceptance.harness import relay_cli
from tests.integration.test_store_console_contract import record

IN_FORCE = """
sources: {recoup: {kind: recoup}}
channels: {ops: {kind: console}}
rules:
  - {name: failures, match: {phase: problem}, notify: [ops]}
"""
CANDIDATE = """
sources: {recoup: {kind: recoup}}
channels: {ops: {kind: console}}
rules:
  - {name: failures, match: {phase: problem, task: deploy-*}, notify: [ops]}
  - {name: done, match: {status: COMPLETED}, notify: [ops]}
"""


async def _record_runs(db: Path) -> None:
    store = await open_store(f"sqlite:///{db}")
    try:
        now = datetime.now(UTC)
        for run_id, status in (("run_failed", "FAILED"), ("run_done", "COMPLETED")):
            await record(store, "EXECUTING", run_id, 0, now=now)
            await record(store, status, run_id, 1, now=now)
    finally:
        await store.close()


def test_backtest_compares_a_candidate_with_the_rules_in_force(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(IN_FORCE)
    (tmp_path / "candidate.yaml").write_text(CANDIDATE)
    db = tmp_path / "relay.db"
    asyncio.run(_record_runs(db))
    common = ["--config", str(tmp_path / "rules.yaml"), "--database", f"sqlite:///{db}"]
    size = db.stat().st_size

    table = relay_cli("backtest", str(tmp_path / "candidate.yaml"), "--since", "1d", *common)
    answer = relay_cli("backtest", str(tmp_path / "candidate.yaml"), "--json", *common)

    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].startswith("4 transitions since ")
    assert "  + recoup/run_done (create-content)" in table.stdout
    assert "  - recoup/run_failed (create-content)" in table.stdout
    assert table.stdout.rstrip().endswith("nothing was sent")
    rows = {r["rule"]: r for r in json.loads(answer.stdout)["rules"]}
    assert (rows["failures"]["messages"], rows["failures"]["messages_in_force"]) == (0, 1)
    assert rows["done"]["messages"] == 1 and rows["done"]["examples"][0]["run"]["id"] == "run_done"
    store = asyncio.run(_deliveries(db))
    assert store == [] and db.stat().st_size == size  # nothing enqueued, nothing written


async def _deliveries(db: Path) -> list[object]:
    store = await open_store(f"sqlite:///{db}")
    try:
        return list(await store.deliveries())
    finally:
        await store.close()


def test_backtest_of_an_invalid_candidate_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(IN_FORCE)
    broken = tmp_path / "broken.yaml"
    broken.write_text(CANDIDATE.replace("status: COMPLETED", "status: COMPLETD"))

    result = relay_cli("backtest", str(broken), "--config", str(tmp_path / "rules.yaml"))

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {broken}:6: ") and "did you mean 'COMPLETED'" in result.stderr


def test_preview_says_why_a_rule_does_not_match(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(IN_FORCE)
    run = tmp_path / "run.json"
    run.write_text(
        json.dumps(
            {"id": "r", "taskIdentifier": "t", "status": "COMPLETED", "updatedAt": "2026-11-25T09:02:00Z"}
        )
    )

    result = relay_cli(
        "preview",
        "failures",
        "--run",
        str(run),
        "--config",
        str(tmp_path / "rules.yaml"),
        "--database",
        f"sqlite:///{tmp_path / 'p.db'}",
    )

    shown = json.loads(result.stdout)
    assert shown["matches"] is False and shown["why_not"].startswith("phase succeeded not in [")
