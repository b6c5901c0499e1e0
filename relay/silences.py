"""Silences: mute matching notifications for a while, like Alertmanager's. Pure.

A silence has matchers (source, task, status, phase, rule, channel; globs; all must match)
and a time span. A silenced match is still recorded, as a delivery with status `silenced`,
so the admin API shows what was held back and why; it is never sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

MATCHER_KEYS = ("source", "task", "status", "phase", "rule", "channel")


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[tuple[str, str], ...]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = ""

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, facts: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and all(
            fnmatchcase(facts.get(key, "").lower(), glob.lower()) for key, glob in self.matchers
        )


def new_silence(
    matchers: Mapping[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    comment: str = "",
    created_by: str = "",
) -> Silence:
    """Validated: raises ValueError with a message a person can act on."""
    if not matchers:
        raise ValueError("a silence needs at least one matcher (e.g. task or rule)")
    unknown = set(matchers) - set(MATCHER_KEYS)
    if unknown:
        raise ValueError(
            f"unknown matcher {sorted(unknown)[0]!r} (expected one of: {', '.join(MATCHER_KEYS)})"
        )
    if not all(isinstance(v, str) and v for v in matchers.values()):
        raise ValueError("matcher values must be non-empty strings (globs allowed)")
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    return Silence(
        uuid.uuid4().hex,
        tuple(sorted((k, str(v)) for k, v in matchers.items())),
        starts_at,
        ends_at,
        comment,
        created_by,
    )


def muted_by(silences: Iterable[Silence], facts: Mapping[str, str], now: datetime) -> Silence | None:
    return next((s for s in silences if s.mutes(facts, now)), None)


def silence_json(s: Silence, now: datetime) -> dict[str, Any]:
    def iso(value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    return {
        "id": s.id,
        "matchers": dict(s.matchers),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "comment": s.comment,
        "created_by": s.created_by,
        "active": s.active(now),
    }
