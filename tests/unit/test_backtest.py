"""Backtest on the memory store (which passes the store contract): the cap on transitions
scanned is said in the answer, nothing is written, and a candidate's ${ENV} values never show
in its rendered examples."""

from __future__ import annotations

from datetime import timedelta

import pytest

from relay.backtest import backtest, lines, load_candidate
from relay.errors import ConfigError
from relay.store.memory import MemoryStore
from tests.builders import T0
from tests.integration.test_store_console_contract import record

RULES = """
sources: {recoup: {kind: recoup}}
channels: {c: {kind: console}}
rules:
  - {name: failures, match: {phase: problem}, notify: [c]}
"""


async def _store() -> MemoryStore:
    store = MemoryStore()
    for n in range(3):
        await record(store, "EXECUTING", f"run_{n}", n * 10)
        await record(store, "FAILED", f"run_{n}", n * 10 + 1)
    return store


async def test_the_cap_on_transitions_scanned_is_said_and_the_oldest_are_kept() -> None:
    store = await _store()
    rules = load_candidate(RULES)

    found = await backtest(rules, rules, store, T0 - timedelta(hours=1), limit=4)

    assert (found["transitions"], found["limit"], found["truncated"]) == (4, 4, True)
    (row,) = found["rules"]
    assert (row["messages"], row["messages_in_force"], row["runs"]) == (2, 2, 2)  # run_0, run_1
    assert row["newly_notified"]["count"] == row["no_longer_notified"]["count"] == 0
    assert "(there were more: the oldest were scanned)" in lines(found)[0]


async def test_nothing_is_written() -> None:
    store = await _store()
    before = (await store.deliveries(), await store.transitions(), await store.runs())
    rules = load_candidate(RULES)

    await backtest(rules, rules, store, T0 - timedelta(hours=1))

    assert (await store.deliveries(), await store.transitions(), await store.runs()) == before


async def test_an_environment_value_in_a_candidates_template_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKTEST_SECRET", "s3cr3t-value-for-backtest")
    store = await _store()
    candidate = load_candidate(
        RULES.replace("notify: [c]}", 'notify: [c], template: {title: "key ${BACKTEST_SECRET}"}}')
    )

    found = await backtest(load_candidate(RULES), candidate, store, T0 - timedelta(hours=1))

    (example, *_) = found["rules"][0]["examples"]
    assert "s3cr3t-value-for-backtest" not in str(found) and example["title"] == "key ***"


def test_a_candidate_that_is_not_yaml_names_the_candidate_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_candidate("rules: [\n  {name: x\n")
    assert caught.value.file == "candidate.yaml" and "/tmp" not in str(caught.value)
    with pytest.raises(ConfigError, match="candidate.yaml"):
        load_candidate("\x00")
