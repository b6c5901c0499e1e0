"""rules.yaml `retention:` -> Retention: how long the store keeps each kind of row, and how
often the pruning job runs. Every key is optional; the defaults are Retention's."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from relay.config.reader import Reader
from relay.durations import parse_duration
from relay.models import Retention

# below this a sent delivery's record would be gone before anyone looked at it; it also keeps
# "0" (pruning everything at once) from being a typo's consequence
MIN_KEEP = 60.0
KEYS = tuple(f.name for f in fields(Retention))


def read_retention(data: object, file: str, line: int = 0) -> Retention:
    """`retention: {sent: 30d, dead: 90d, transitions: 90d, finished_runs: 90d, seen: 7d}`."""
    if data is None:
        return Retention()
    r = Reader(data, file, "retention", line)
    r.only(*KEYS)
    default = Retention()
    return Retention(**{key: r.convert(key, _keep, getattr(default, key)) for key in KEYS})


def _keep(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < MIN_KEEP:
        raise ValueError(f"expected a duration of at least 1m, such as 30d, got {value!r}")
    return seconds
