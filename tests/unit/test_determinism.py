"""diff -> match -> plan -> render is data in, data out: with the same ids and `now` passed in,
the same transition plans the same deliveries (messages and payloads included), every time."""

from datetime import timedelta
from pathlib import Path

from relay.config import RuleSet, load_ruleset
from relay.digests import DigestSpec
from relay.dispatch import Plan, digest_delivery, plan, plan_stuck
from relay.models import Delivery, RunState, Transition
from relay.render.digest import item_for
from relay.rules.index import index_for
from relay.transitions import diff
from tests.builders import T0, counter, snap

RULES = """
sources: {recoup: {kind: recoup}}
channels:
  console: {kind: console}
  slack: {kind: slack, url: "http://127.0.0.1:9/slack"}
  hook: {kind: webhook, url: "http://127.0.0.1:9/hook"}
rules:
  - name: failures
    match: {phase: problem}
    notify: [console, slack, hook]
    template: {title: "{{ run.task }} {{ run.status | lower }}"}
  - {name: grouped, match: {phase: problem}, notify: [hook], group_window: 1m}
  - {name: once, match: {phase: problem}, notify: [slack], once_per: {key: "{{ run.task }}", period: 1h}}
  - {name: daily, notify: [hook], digest: {cron: "0 9 * * *"}}
  - {name: stuck, match: {phase: running}, notify: [slack, hook], stuck_after: 30m}
"""


def ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return load_ruleset(path)


def flow(rules: RuleSet, previous: RunState, run_status: str) -> tuple[Transition, Plan]:
    ids = counter()
    run = snap(run_status, at=10, error="Out of memory", url="https://x.example/runs/run_1")
    transition = diff(previous, run, now=T0, watching_since=T0, ids=ids)
    assert transition is not None
    matched = index_for(rules).matching(transition, run)
    return transition, plan(transition, run, matched, rules.channels, now=T0, ids=ids)


def test_the_same_transition_plans_the_same_deliveries_twice(tmp_path: Path) -> None:
    rules, previous = ruleset(tmp_path), RunState(snap("EXECUTING"), T0, T0)
    first = flow(rules, previous, "FAILED")
    assert first == flow(rules, previous, "FAILED")
    transition, planned = first
    assert transition.id == "id-1"  # every id drawn from the ids passed in
    assert [d.id for d in planned.deliveries] == ["id-2", "id-3", "id-4", "id-5", "id-6"]
    assert {d.transition_id for d in planned.deliveries} == {"id-1"}
    assert [i.rule for i in planned.digest_items] == ["daily"]


def test_clock_driven_deliveries_are_the_same_for_the_same_ids_and_now(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    stuck = next(r for r in rules.rules if r.name == "stuck")
    state, later = RunState(snap("EXECUTING"), T0, T0), T0 + timedelta(hours=1)
    found = plan_stuck(state, stuck, rules.channels, now=later, ids=counter())
    assert found is not None and found == plan_stuck(state, stuck, rules.channels, now=later, ids=counter())
    assert [d.id for d in found[1]] == ["id-1", "id-2"]

    daily = next(r for r in rules.rules if r.name == "daily")
    done, spec = snap("COMPLETED"), DigestSpec("0 9 * * *")
    item = item_for("daily", "hook", spec, found[0], done, redacted=False)
    end = spec.window_end(T0)

    def digest() -> Delivery | None:
        return digest_delivery(daily, "hook", end, [item], now=later, ids=counter("digest"))

    sent = digest()
    assert sent is not None and sent == digest() and sent.id == "digest-1"
