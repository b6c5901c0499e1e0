"""Why (not)? on a run's page: for each of its transitions, every rule in force and whether it
notifies, or the first reason it does not (relay/rules/explain.py), with the silences of the
transition's time. The rules are those in force now, the run as stored now."""

from __future__ import annotations

from collections.abc import Sequence

from relay.console.views import Step
from relay.models import Snapshot
from relay.rules.explain import Verdict, verdicts
from relay.service import Relay


async def by_transition(
    relay: Relay, run: Snapshot | None, steps: Sequence[Step]
) -> dict[str, list[Verdict]]:
    if run is None or not steps:
        return {}
    silences = await relay.store.silences()
    rules = relay.ruleset.rules
    return {s.transition.id: verdicts(rules, s.transition, run, silences=silences) for s in steps}
