"""Does a transition match a rule? Pure.

A rule's `match` is a conjunction; every condition left out matches anything. Lists mean
"any of". `phase` also accepts the groups `terminal` and `problem` (terminal but neither a
success nor a cancel). Status names are the platform's own (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from relay.errors import did_you_mean
from relay.models import PROBLEM_PHASES, TERMINAL_PHASES, Phase, Snapshot, Transition

PHASE_GROUPS: dict[str, frozenset[Phase]] = {
    "terminal": TERMINAL_PHASES,
    "problem": PROBLEM_PHASES,
    "active": frozenset(Phase) - TERMINAL_PHASES - {Phase.UNKNOWN},
}
KEYS = (
    "source",
    "task",
    "status",
    "from_status",
    "phase",
    "from_phase",
    "tags",
    "test",
    "output",
    "recovered",
)


@dataclass(frozen=True)
class Matcher:
    sources: frozenset[str] | None = None
    tasks: tuple[str, ...] | None = None  # globs
    statuses: frozenset[str] | None = None
    from_statuses: frozenset[str] | None = None
    phases: frozenset[Phase] | None = None
    from_phases: frozenset[Phase | None] | None = None
    tags: tuple[str, ...] = ()  # all must be present (globs)
    test: bool | None = None
    output: tuple[tuple[str, str], ...] = ()  # dotted field -> glob ("*": present)
    recovered: bool | None = None  # a success after the task's last run was a problem

    def matches(self, transition: Transition, run: Snapshot) -> bool:
        return (
            _within(self.sources, transition.source)
            and (self.tasks is None or any(fnmatchcase(run.task, g) for g in self.tasks))
            and _within(self.statuses, transition.to_status.upper())
            and _within(self.from_statuses, (transition.from_status or "UNKNOWN").upper())
            and _within(self.phases, transition.to_phase)
            and _within(self.from_phases, transition.from_phase)
            and all(any(fnmatchcase(t, g) for t in run.tags) for g in self.tags)
            and (self.test is None or self.test == run.is_test)
            and all(_output_matches(run.output, f, g) for f, g in self.output)
            and (self.recovered is None or self.recovered == transition.recovered)
        )


def _within(allowed: frozenset[Any] | None, value: object) -> bool:
    return allowed is None or value in allowed


def _output_matches(output: dict[str, Any] | None, dotted: str, glob: str) -> bool:
    value: Any = output
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    if value is None:
        return False
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return fnmatchcase(text, glob)


def build_matcher(
    data: dict[str, Any], *, known_sources: set[str], known_statuses: Collection[str] | None = None
) -> Matcher:
    """`known_statuses`: every status name the source kinds report; None accepts any."""
    unknown = set(data) - set(KEYS)
    if unknown:
        name = sorted(unknown)[0]
        raise ValueError(f"unknown condition {name!r}{did_you_mean(name, KEYS) or _expected(KEYS)}")
    sources = _strings(data, "source")
    if sources is not None and not sources <= known_sources:
        name = sorted(sources - known_sources)[0]
        raise ValueError(f"unknown source {name!r}{did_you_mean(name, known_sources)}")
    if known_statuses is not None:
        _check_statuses(data, known_statuses)
    test, recovered = data.get("test"), data.get("recovered")
    if test is not None and not isinstance(test, bool):
        raise ValueError("test must be true or false")
    if recovered is not None and not isinstance(recovered, bool):
        raise ValueError("recovered must be true or false")
    output = data.get("output") or {}
    if not isinstance(output, dict):
        raise ValueError("output must map field names to values, e.g. {template: 'artist-*'}")
    return Matcher(
        sources=sources,
        tasks=tuple(sorted(t)) if (t := _strings(data, "task")) is not None else None,
        statuses=_upper(_strings(data, "status")),
        from_statuses=_upper(_strings(data, "from_status")),
        phases=_phases(data, "phase"),
        from_phases=_from_phases(data),
        tags=tuple(sorted(_strings(data, "tags") or ())),
        test=test,
        output=tuple((str(k), _scalar_text(v)) for k, v in output.items()),
        recovered=recovered,
    )


def _check_statuses(data: dict[str, Any], known: Collection[str]) -> None:
    """Statuses match case-insensitively, so they are compared and suggested in upper case."""
    for key in ("status", "from_status"):
        allowed = {*known, "UNKNOWN"} if key == "from_status" else set(known)  # UNKNOWN: first seen
        for name in sorted(_strings(data, key) or ()):
            if name.upper() not in {s.upper() for s in allowed}:
                hint = did_you_mean(name, allowed, str.upper) or " (no source kind reports it)"
                raise ValueError(f"{key}: unknown status {name!r}{hint}")


def _expected(choices: Iterable[str]) -> str:
    return f" (expected one of: {', '.join(choices)})"


def _strings(data: dict[str, Any], key: str) -> frozenset[str] | None:
    value = data.get(key)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{key} must be a name or a list of names")
    return frozenset(values)


def _upper(values: frozenset[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(v.upper() for v in values)


def _phases(data: dict[str, Any], key: str) -> frozenset[Phase] | None:
    names = _strings(data, key)
    return None if names is None else frozenset(_expand(names, key))


def _from_phases(data: dict[str, Any]) -> frozenset[Phase | None] | None:
    names = _strings(data, "from_phase")
    if names is None:
        return None
    found: set[Phase | None] = set(_expand(names - {"unknown"}, "from_phase"))
    if "unknown" in names:
        found.add(None)  # first time seen
    return frozenset(found)


def _expand(names: Iterable[str], key: str) -> Iterable[Phase]:
    for name in names:
        if name in PHASE_GROUPS:
            yield from PHASE_GROUPS[name]
        elif name in Phase.__members__.values():
            yield Phase(name)
        else:
            choices = [*PHASE_GROUPS, *(p.value for p in Phase)]
            hint = did_you_mean(name, choices) or _expected(choices)
            raise ValueError(f"{key}: unknown phase {name!r}{hint}")


def _scalar_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
