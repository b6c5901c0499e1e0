"""What a reloaded rules.yaml changes against the RuleSet in force: the channels and sources
that are new, gone or configured differently. Pure; `Relay.reload` acts on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.config import RuleSet


@dataclass(frozen=True)
class Diff:
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    changed: frozenset[str] = frozenset()

    @property
    def to_open(self) -> frozenset[str]:
        return self.added | self.changed

    @property
    def to_close(self) -> frozenset[str]:
        return self.removed | self.changed

    def as_json(self) -> dict[str, list[str]]:
        return {"added": sorted(self.added), "removed": sorted(self.removed), "changed": sorted(self.changed)}


@dataclass(frozen=True)
class Changes:
    channels: Diff
    sources: Diff

    def as_json(self) -> dict[str, Any]:
        return {"channels": self.channels.as_json(), "sources": self.sources.as_json()}

    def summary(self) -> str:
        """e.g. `channels=+crm,~slack,-old sources=unchanged`, for the log line."""
        return f"channels={_signs(self.channels)} sources={_signs(self.sources)}"


def changes(old: RuleSet, new: RuleSet) -> Changes:
    channels = compare(old.channels, new.channels)
    if old.delivery.timeout != new.delivery.timeout:  # every channel's HTTP client holds it
        kept = frozenset(old.channels) & frozenset(new.channels)
        channels = Diff(channels.added, channels.removed, kept)
    return Changes(channels, compare(old.sources, new.sources))


def compare(old: Mapping[str, object], new: Mapping[str, object]) -> Diff:
    kept = old.keys() & new.keys()
    return Diff(
        frozenset(new.keys() - old.keys()),
        frozenset(old.keys() - new.keys()),
        frozenset(name for name in kept if old[name] != new[name]),
    )


def _signs(diff: Diff) -> str:
    marked = [f"+{n}" for n in sorted(diff.added)] + [f"~{n}" for n in sorted(diff.changed)]
    marked += [f"-{n}" for n in sorted(diff.removed)]
    return ",".join(marked) or "unchanged"
