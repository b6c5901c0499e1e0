"""Why (not)? For a transition, each rule's verdict: it notifies, or the first reason it does
not, in plain words. Pure: silences and `now` are passed in.

A rule is asked in the order the relay decides (relay/dispatch.py `plan`): a stuck-run rule
never fires on a transition; then its `match:` (relay/config/explain.py); then `first_seen`
(dispatch.wants); then silences, per channel: a rule whose every channel is muted says so as
its reason, one with some channels muted lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relay.config import Rule
from relay.config.explain import explain
from relay.dispatch import _facts, wants
from relay.models import Snapshot, Transition
from relay.render.default import duration_text
from relay.silences import Silence, muted_by


@dataclass(frozen=True)
class Verdict:
    rule: str
    why_not: str | None  # None: the rule matched and notifies
    silenced: dict[str, str] = field(default_factory=dict)  # channel -> why, when some are muted

    @property
    def matches(self) -> bool:
        return self.why_not is None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "matches": self.matches,
            "why_not": self.why_not,
            "silenced": self.silenced,
        }


def why_not(
    rule: Rule,
    transition: Transition,
    run: Snapshot,
    *,
    silences: Sequence[Silence] = (),
    now: datetime | None = None,
    first_seen: bool = True,
) -> Verdict:
    """`first_seen=False` leaves the rule's first_seen option out (a preview, whose transition
    is made up)."""
    if rule.stuck_after is not None:
        return Verdict(
            rule.name,
            f"stuck_after: fires only for a run stuck for {duration_text(rule.stuck_after * 1000)},"
            " not on a transition",
        )
    if (reason := explain(rule.matcher, transition, run)) is not None:
        return Verdict(rule.name, reason)
    if first_seen and not wants(rule, transition):
        return Verdict(rule.name, _first_seen(rule))
    muted = _muted(rule, run, silences, now or transition.observed_at)
    if muted and len(muted) == len(rule.notify):
        return Verdict(rule.name, muted[rule.notify[0]])
    return Verdict(rule.name, None, muted)


def verdicts(
    rules: Iterable[Rule],
    transition: Transition,
    run: Snapshot,
    *,
    silences: Sequence[Silence] = (),
    now: datetime | None = None,
    first_seen: bool = True,
) -> list[Verdict]:
    return [why_not(r, transition, run, silences=silences, now=now, first_seen=first_seen) for r in rules]


def _first_seen(rule: Rule) -> str:
    if rule.first_seen == "never":
        return "first_seen: never and the run was first seen in this status"
    return "first_seen: recent and the run finished before watching began"


def _muted(rule: Rule, run: Snapshot, silences: Sequence[Silence], now: datetime) -> dict[str, str]:
    found = {}
    for channel in rule.notify:
        if silence := muted_by(silences, _facts(run, rule, channel), now):
            found[channel] = silenced_text(silence)
    return found


def silenced_text(silence: Silence) -> str:
    return f"silenced by {silence.id[:4]}… until {silence.ends_at:%Y-%m-%d %H:%M} UTC"
