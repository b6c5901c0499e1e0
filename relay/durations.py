"""'30s', '2m', '1h', '500ms', or a bare number of seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _PATTERN.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like 30s, 2m or 1h, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
