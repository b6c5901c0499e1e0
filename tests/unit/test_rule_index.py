"""The rule index returns exactly what scanning every rule returns, in rule order."""

import random
from dataclasses import replace

import pytest

from relay.config import Rule
from relay.config.matching import build_matcher
from relay.models import Phase, Snapshot, Transition, Via
from relay.rules.index import RuleIndex
from tests.builders import T0, snap

SOURCES = ["recoup", "trigger", "runner"]
TASKS = ["create-content", "create-video", "render", "deploy-1", "x"]
GLOBS = ["create-*", "*-content", "deploy-?", "render", "nothing-*", "x"]
STATUSES = ["EXECUTING", "COMPLETED", "FAILED", "CRASHED", "CANCELED", "completed", "Timed_Out", "QUEUED"]
PHASE_NAMES = [p.value for p in Phase] + ["terminal", "problem", "active"]


def some(rng: random.Random, choices: list[str]) -> str | list[str]:
    picked = rng.sample(choices, rng.randint(1, min(3, len(choices))))
    return picked[0] if len(picked) == 1 and rng.random() < 0.5 else picked


def random_rule(rng: random.Random, n: int) -> Rule:
    conditions: dict[str, object] = {}
    for key, choices in (
        ("source", SOURCES),
        ("task", GLOBS),
        ("status", STATUSES),
        ("phase", PHASE_NAMES),
        ("from_status", STATUSES),
        ("from_phase", [*PHASE_NAMES, "unknown"]),
        ("tags", ["vip", "account:*"]),
    ):
        if rng.random() < 0.4:
            conditions[key] = some(rng, choices)
    if rng.random() < 0.1:
        conditions["test"] = rng.random() < 0.5
    if rng.random() < 0.1:
        conditions["output"] = {"template": rng.choice(["artist-*", "*"])}
    return Rule(f"r{n}", build_matcher(conditions, known_sources=set(SOURCES)), ("c",))


def random_transition(rng: random.Random) -> tuple[Transition, Snapshot]:
    status = rng.choice(STATUSES)
    run = snap(
        status.upper(),
        source=rng.choice([*SOURCES, "elsewhere"]),
        task=rng.choice(TASKS),
        tags=tuple(rng.sample(["vip", "account:1", "other"], rng.randint(0, 2))),
        is_test=rng.random() < 0.3,
        output=rng.choice([None, {"template": "artist-caption"}, {"template": "plain"}]),
    )
    from_phase = rng.choice([None, *Phase])
    transition = Transition(
        "t",
        run.source,
        run.run_id,
        from_phase,
        rng.choice([run.phase, rng.choice(list(Phase))]),
        None if from_phase is None else rng.choice(STATUSES),
        status,
        T0,
        Via.WEBHOOK,
    )
    return transition, run


@pytest.mark.parametrize("seed", range(30))
def test_index_matches_exactly_what_a_full_scan_matches(seed: int) -> None:
    rng = random.Random(seed)
    rules = [random_rule(rng, n) for n in range(rng.choice([1, 5, 40, 200]))]
    index = RuleIndex(rules)
    matched = 0
    for _ in range(300):
        transition, run = random_transition(rng)
        expected = [r for r in rules if r.matcher.matches(transition, run)]
        assert index.matching(transition, run) == expected
        matched += len(expected)
    assert matched > 0 or len(rules) < 40  # the cases are not all trivially empty


def test_no_rules_and_rules_without_conditions() -> None:
    transition, run = random_transition(random.Random(1))
    assert RuleIndex([]).matching(transition, run) == []
    everything = Rule("all", build_matcher({}, known_sources=set()), ("c",))
    assert RuleIndex([everything]).matching(transition, run) == [everything]


def test_task_memo_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("relay.rules.index.MAX_TASKS", 2)
    rule = Rule("create", build_matcher({"task": "create-*"}, known_sources=set()), ("c",))
    index = RuleIndex([rule])
    transition, run = random_transition(random.Random(2))
    for task in ["create-a", "b", "create-c", "d", "create-a"]:
        expected = [rule] if task.startswith("create-") else []
        assert index.matching(transition, replace(run, task=task)) == expected
