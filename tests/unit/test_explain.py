"""Why (not)? A rule's first failing condition in plain words; None exactly when it matches."""

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from relay.config import Rule
from relay.config.explain import explain
from relay.config.matching import build_matcher
from relay.models import Phase, Snapshot, Transition, Via
from relay.rules.explain import verdicts, why_not
from relay.silences import new_silence
from tests.builders import T0, snap
from tests.unit.test_rule_index import random_rule, random_transition


def transition(to: str, frm: str | None = "EXECUTING", **extra: object) -> Transition:
    run = snap(to)
    phase = Phase.RUNNING if frm else None
    return Transition("t1", "recoup", run.run_id, phase, run.phase, frm, to, T0, Via.POLL, **extra)  # type: ignore[arg-type]


def rule(name: str = "r", notify: tuple[str, ...] = ("slack",), **conditions: object) -> Rule:
    return Rule(name, build_matcher(dict(conditions), known_sources={"recoup", "other"}), notify)


def matcher(conditions: dict[str, object]) -> Rule:
    return Rule("r", build_matcher(conditions, known_sources={"recoup", "other"}), ("slack",))


@pytest.mark.parametrize("seed", range(20))
def test_explain_is_none_exactly_when_the_matcher_matches(seed: int) -> None:
    rng = random.Random(seed)
    rules = [random_rule(rng, n) for n in range(40)]
    reasons = 0
    for _ in range(200):
        t, run = random_transition(rng)
        for r in rules:
            reason = explain(r.matcher, t, run)
            assert (reason is None) == r.matcher.matches(t, run), (r, t, run, reason)
            reasons += reason is not None
    assert reasons > 0


@pytest.mark.parametrize(
    ("conditions", "run", "expected"),
    [
        ({"status": "COMPLETED"}, snap("FAILED"), "status FAILED not in [COMPLETED]"),
        ({"task": "create-*"}, snap("FAILED", task="x"), 'task "x" does not match "create-*"'),
        ({"source": "other"}, snap("FAILED"), 'source "recoup" not in [other]'),
        ({"phase": "succeeded"}, snap("FAILED"), "phase failed not in [succeeded]"),
        ({"from_phase": "unknown"}, snap("FAILED"), "from_phase running not in [unknown]"),
        ({"from_status": "QUEUED"}, snap("FAILED"), "from_status EXECUTING not in [QUEUED]"),
        ({"tags": "vip"}, snap("FAILED", tags=("a",)), 'no tag matches "vip" (tags: [a])'),
        ({"test": False}, snap("FAILED", is_test=True), "test: the run is a test run"),
        (
            {"output": {"template": "artist-*"}},
            snap("FAILED"),
            'output.template is missing (wanted "artist-*")',
        ),
        (
            {"output": {"template": "artist-*"}},
            snap("FAILED", output={"template": "plain"}),
            'output.template "plain" does not match "artist-*"',
        ),
    ],
)
def test_each_condition_says_what_failed(conditions: dict[str, object], run: Snapshot, expected: str) -> None:
    assert explain(matcher(conditions).matcher, transition(run.status), run) == expected


def test_the_first_failing_condition_in_the_matchers_order_is_told() -> None:
    r = rule(task="create-*", status="COMPLETED")
    assert (
        explain(r.matcher, transition("FAILED"), snap("FAILED", task="x"))
        == 'task "x" does not match "create-*"'
    )


def test_run_data_in_a_reason_is_one_line_and_bounded() -> None:
    hostile = "<script>alert(1)</script>\n\x1b[31m" + "x" * 500
    reason = explain(rule(task="create-*").matcher, transition("FAILED"), snap("FAILED", task=hostile))
    assert reason is not None and "\n" not in reason and "\x1b" not in reason and len(reason) < 160
    assert "<script>" in reason  # kept as text: the page escapes it, the API quotes it in JSON


def test_first_seen_reasons() -> None:
    backfill = transition("COMPLETED", None, backfill=True)
    run = snap("COMPLETED")
    assert why_not(rule(), backfill, run).why_not == (
        "first_seen: recent and the run finished before watching began"
    )
    never = replace(rule(), first_seen="never")
    assert why_not(never, transition("COMPLETED", None), run).why_not == (
        "first_seen: never and the run was first seen in this status"
    )
    assert why_not(never, transition("COMPLETED", None), run, first_seen=False).matches
    assert why_not(replace(rule(), first_seen="always"), backfill, run).matches


def test_silences_are_told_with_their_id_and_end() -> None:
    silence = new_silence({"task": "create-*"}, T0 - timedelta(hours=1), T0.replace(hour=18))
    t, run = transition("FAILED"), snap("FAILED")
    verdict = why_not(rule(), t, run, silences=[silence], now=T0)
    assert verdict.why_not == f"silenced by {silence.id[:4]}… until 2026-11-25 18:00 UTC"
    partly = why_not(
        rule(notify=("slack", "mail")),
        t,
        run,
        silences=[replace(silence, matchers=(("channel", "mail"),))],
        now=T0,
    )
    assert partly.matches and list(partly.silenced) == ["mail"]
    assert why_not(rule(), t, run, silences=[silence], now=T0.replace(hour=19)).matches


def test_a_stuck_rule_never_fires_on_a_transition_and_every_rule_gets_a_verdict() -> None:
    stuck = replace(rule("stuck"), stuck_after=1800.0)
    found = verdicts(
        [rule("any"), stuck, rule("done", status="COMPLETED")], transition("FAILED"), snap("FAILED")
    )
    assert [(v.rule, v.matches) for v in found] == [("any", True), ("stuck", False), ("done", False)]
    assert found[1].why_not is not None and found[1].why_not.startswith(
        "stuck_after: fires only for a run stuck"
    )
    assert found[0].as_json() == {"rule": "any", "matches": True, "why_not": None, "silenced": {}}
