"""What every platform's parser reads the same way: required text, run ids, timestamps, and
how a value is quoted in an error message. Pure; errors are SourceError naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from relay.clock import parse_time
from relay.errors import SourceError
from relay.models import JSON, Snapshot


def type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def short(value: object) -> str:
    """A value as an error message quotes it: its repr, cut at 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def required_text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        raise SourceError(f"{where}: {key} is missing")
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: {key} must be a non-empty string, got {short(value)}")
    return value


def run_id(obj: dict[str, Any], where: str) -> str:
    """The run's id, which becomes a segment of API paths (re-checks by id): `.` and `..`
    would be folded away by the HTTP client (`/runs/..` asks for the collection's parent)."""
    value = required_text(obj, "id", where)
    if value.strip() in (".", ".."):
        raise SourceError(f"{where}: id {value!r} cannot name a run")
    return value


def timestamp(obj: dict[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    if value is None:  # null where the docs say nullable, or absent: the caller falls back
        return None
    if not isinstance(value, str):
        raise SourceError(f"{where}: {key} must be an ISO 8601 string, got {short(value)}")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise SourceError(f"{where}: {key} is {exc}: {short(value)}") from None


def whole_number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def text(value: object) -> str | None:
    """A non-blank string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def string_tags(value: object) -> tuple[str, ...]:
    return tuple(t for t in value if isinstance(t, str)) if isinstance(value, list) else ()


def json_object(value: object) -> JSON | None:
    return value if isinstance(value, dict) else None


def each_run(body: dict[str, Any], parse: Callable[[object], Snapshot]) -> list[Snapshot]:
    """The `{"runs": [...]}` shape every kind accepts. All or nothing: one malformed run
    rejects the body (its index named), so a bad request changes nothing."""
    runs = body["runs"]
    if not isinstance(runs, list) or not runs:
        raise SourceError("runs must be a non-empty list of run objects")
    snapshots = []
    for index, item in enumerate(runs):
        try:
            snapshots.append(parse(item))
        except SourceError as exc:
            raise SourceError(f"runs[{index}]: {exc}") from exc
    return snapshots


def link(template: str | None, **values: str) -> str | None:
    """A run_url template with `{run_id}` (and the like) filled in, each value %-encoded."""
    if not template:
        return None
    for key, value in values.items():
        template = template.replace("{" + key + "}", quote(value, safe=""))
    return template
