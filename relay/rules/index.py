"""Which rules can match a transition, without scanning them all. Pure.

Built once per RuleSet: for each of source, status and phase, a map from a value to the rules
that name it, plus the rules that leave that condition out (they match any value); tasks are
exact names or globs, so a task's rules are worked out on first sight and remembered. Each set
of rules is a bitmask (bit i: the i-th rule), so the candidates are three lookups and an AND;
the full matcher then decides on the few candidates that have other conditions too (previous
status or phase, tags, test, output, recovered), so the result is exactly what scanning every rule
gives, in rule order.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from relay.config import Rule, RuleSet
from relay.models import Snapshot, Transition

MAX_TASKS = 10_000  # task names remembered; past that the memo starts over


class _Dimension:
    """One condition: value -> mask of the rules that accept it."""

    def __init__(self) -> None:
        self.named: dict[object, int] = {}
        self.anything = 0  # rules without this condition

    def add(self, bit: int, values: Iterable[object] | None) -> None:
        if values is None:
            self.anything |= bit
            return
        for value in values:
            self.named[value] = self.named.get(value, 0) | bit

    def mask(self, value: object) -> int:
        return self.anything | self.named.get(value, 0)


class RuleIndex:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._sources, self._statuses, self._phases = _Dimension(), _Dimension(), _Dimension()
        self._any_task = 0
        self._decided = 0  # rules with no condition beyond the indexed ones
        self._globs: list[tuple[str, int]] = []  # (task glob, rule bit)
        for i, rule in enumerate(self.rules):
            bit, m = 1 << i, rule.matcher
            self._sources.add(bit, m.sources)
            self._statuses.add(bit, m.statuses)
            self._phases.add(bit, m.phases)
            if not (
                m.from_statuses
                or m.from_phases
                or m.tags
                or m.test is not None
                or m.output
                or m.recovered is not None
            ):
                self._decided |= bit
            if m.tasks is None:
                self._any_task |= bit
            else:
                self._globs += [(glob, bit) for glob in m.tasks]
        self._tasks: dict[str, int] = {}

    def matching(self, transition: Transition, run: Snapshot) -> list[Rule]:
        candidates = (
            self._sources.mask(transition.source)
            & self._statuses.mask(transition.to_status.upper())
            & self._phases.mask(transition.to_phase)
            & self._task_mask(run.task)
        )
        found: list[Rule] = []
        while candidates:
            low = candidates & -candidates
            rule = self.rules[low.bit_length() - 1]
            if low & self._decided or rule.matcher.matches(transition, run):
                found.append(rule)
            candidates ^= low
        return found

    def _task_mask(self, task: str) -> int:
        mask = self._tasks.get(task)
        if mask is None:
            mask = self._any_task
            for glob, bit in self._globs:
                if not mask & bit and fnmatchcase(task, glob):
                    mask |= bit
            if len(self._tasks) >= MAX_TASKS:
                self._tasks.clear()
            self._tasks[task] = mask
        return mask


_built: dict[int, tuple[weakref.ref[RuleSet], RuleIndex]] = {}


def index_for(ruleset: RuleSet) -> RuleIndex:
    """The index of a RuleSet, built on first use and kept while the RuleSet lives."""
    key = id(ruleset)
    found = _built.get(key)
    if found is not None and found[0]() is ruleset:
        return found[1]
    index = RuleIndex(ruleset.rules)
    _built[key] = (weakref.ref(ruleset, lambda _: _built.pop(key, None)), index)
    return index
