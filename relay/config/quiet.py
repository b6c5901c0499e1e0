"""The `quiet_hours` and `urgent` options of rules.yaml (a rule's or a channel's)."""

from __future__ import annotations

from datetime import time

from relay.config.matching import Matcher, build_matcher
from relay.config.reader import Reader
from relay.config.yamlfile import Mapping
from relay.errors import ConfigError
from relay.quiet import QuietHours, parse_clock_time


def read_quiet_hours(r: Reader) -> QuietHours | None:
    """`quiet_hours: {from: "22:00", to: "07:00", tz: Europe/Berlin}` of the mapping `r` reads."""
    data = r.data.get("quiet_hours")
    if data is None:
        return None
    q = Reader(data, r.file, f"{r.where} quiet_hours")
    q.only("from", "to", "tz")
    for key in ("from", "to"):
        if q.data.get(key) is None:
            raise q.fail(None, f'{key} is missing (e.g. from: "22:00", to: "07:00")')
    start, end = q.convert("from", _time, None), q.convert("to", _time, None)
    tz = q.time_zone()
    assert start is not None
    assert end is not None
    try:
        return QuietHours(start, end, tz)
    except ValueError as exc:
        raise q.fail("to", str(exc)) from exc


def _time(value: object) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the sexagesimal 1320
        raise ValueError(f'write the time in quotes, e.g. "22:00" (YAML read {value!r})')
    return parse_clock_time(str(value))


def read_urgent(r: Reader, sources: set[str], statuses: set[str]) -> Matcher | None:
    """`urgent: true` (all of the rule's matches) or `urgent: {match conditions}` (those of its
    matches that also meet them) go out during quiet hours all the same."""
    data = r.data.get("urgent")
    if data is None or data is False:
        return None
    if data is True:
        data = {}
    elif not isinstance(data, Mapping):
        raise r.fail("urgent", "urgent must be true, false or match conditions (e.g. {status: CRASHED})")
    try:
        return build_matcher(data, known_sources=sources, known_statuses=statuses)
    except ValueError as exc:
        raise ConfigError(f"{r.where}: urgent: {exc}", r.file, r.data.line_of("urgent")) from exc
