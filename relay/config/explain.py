"""Why a transition does not match a rule's `match:`: the first condition that fails, in plain
words, or None when it matches. Pure.

It checks the conditions in the order `Matcher.matches` does, and `explain(m, t, run) is None`
is exactly `m.matches(t, run)` (tests/unit/test_explain.py checks both over every condition).
`matches` stays the short-circuit expression the hot path runs; this one is for people.
Run data in a reason (a task name, a tag, an output value) is quoted and cut to one line; it
stays untrusted: a page escapes it (Jinja autoescape), the API returns it as a JSON string.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from relay.config.matching import Matcher, _output_matches
from relay.models import Phase, Snapshot, Transition
from relay.render.escape import one_line

SHOWN = 80  # characters of a run's value in a reason


def explain(m: Matcher, transition: Transition, run: Snapshot) -> str | None:
    return _named(m, transition, run) or _details(m, transition, run)


def _named(m: Matcher, transition: Transition, run: Snapshot) -> str | None:
    """The conditions on names: source, task, status and phase, from and to."""
    status, from_status = transition.to_status.upper(), (transition.from_status or "UNKNOWN").upper()
    if m.sources is not None and transition.source not in m.sources:
        return f"source {_q(transition.source)} not in {_list(m.sources)}"
    if m.tasks is not None and not any(fnmatchcase(run.task, g) for g in m.tasks):
        return f"task {_q(run.task)} does not match {_globs(m.tasks)}"
    if m.statuses is not None and status not in m.statuses:
        return f"status {_plain(status)} not in {_list(m.statuses)}"
    if m.from_statuses is not None and from_status not in m.from_statuses:
        return f"from_status {_plain(from_status)} not in {_list(m.from_statuses)}"
    if m.phases is not None and transition.to_phase not in m.phases:
        return f"phase {transition.to_phase.value} not in {_phases(m.phases)}"
    if m.from_phases is not None and transition.from_phase not in m.from_phases:
        return f"from_phase {_phase(transition.from_phase)} not in {_phases(m.from_phases)}"
    return None


def _details(m: Matcher, transition: Transition, run: Snapshot) -> str | None:
    """The conditions on the run's details: tags, test, output fields, recovered."""
    for glob in m.tags:
        if not any(fnmatchcase(t, glob) for t in run.tags):
            return f"no tag matches {_q(glob)} (tags: {_list(run.tags) if run.tags else 'none'})"
    if m.test is not None and m.test != run.is_test:
        return "test: the run is a test run" if run.is_test else "test: the run is not a test run"
    for dotted, glob in m.output:
        if not _output_matches(run.output, dotted, glob):
            return _output_reason(run, dotted, glob)
    if m.recovered is not None and m.recovered != transition.recovered:
        return (
            "recovered: the task's last finished run was not a problem, or this is not a success"
            if m.recovered
            else "recovered: this success follows a problem of the task (rule wants recovered: false)"
        )
    return None


def _q(text: str) -> str:
    return f'"{one_line(text, SHOWN)}"'


def _plain(text: str) -> str:
    return one_line(text, SHOWN)


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(sorted(_plain(v) for v in values)) + "]"


def _globs(globs: tuple[str, ...]) -> str:
    return _q(globs[0]) if len(globs) == 1 else "any of [" + ", ".join(_q(g) for g in globs) + "]"


def _phase(phase: Phase | None) -> str:
    return phase.value if phase is not None else "unknown"


def _phases(phases: Iterable[Phase | None]) -> str:
    return "[" + ", ".join(sorted(_phase(p) for p in phases)) + "]"


def _output_reason(run: Snapshot, dotted: str, glob: str) -> str:
    value: object = run.output
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return f"output.{dotted} is missing (wanted {_q(glob)})"
        value = value[part]
    if value is None:
        return f"output.{dotted} is null (wanted {_q(glob)})"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"output.{dotted} {_q(text)} does not match {_q(glob)}"
