"""Typed reading of one mapping of rules.yaml, and the collection of every error in the file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay.config.yamlfile import Mapping
from relay.errors import ConfigError, ConfigErrors, did_you_mean

T = TypeVar("T")
P = ParamSpec("P")


class Reader:
    """Typed access to one mapping of the file, with errors at the right line."""

    def __init__(self, data: object, file: str, where: str, line: int = 0) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a mapping", file, getattr(data, "line", line) or None)
        self.data, self.file, self.where = data, file, where

    def fail(self, key: str | None, message: str) -> ConfigError:
        line = self.data.line_of(key) if key else self.data.line
        return ConfigError(f"{self.where}: {message}", self.file, line)

    def get(self, key: str, kind: type[T], default: T) -> T:
        value = self.data.get(key, default)
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"{key} must be a {kind.__name__}, got {value!r}")
        return value

    def convert(self, key: str, fn: Callable[[Any], T], default: T) -> T:
        if self.data.get(key) is None:
            return default
        try:
            return fn(self.data[key])
        except (ValueError, TypeError) as exc:
            raise self.fail(key, f"{key}: {exc}") from exc

    def only(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f" (expected one of: {', '.join(allowed)})"
                raise self.fail(key, f"unknown option {key!r}{hint}")

    def strings(self, key: str) -> tuple[str, ...]:
        """A string or a list of strings (secrets while they rotate); empty ones are dropped, so
        `${VAR:-}` left unset means none. The error never shows the values."""
        value = self.data.get(key)
        items = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, str) for v in items):
            raise self.fail(key, f"{key} must be a string or a list of strings")
        return tuple(v for v in items if v)

    def time_zone(self, key: str = "tz") -> str:
        """An IANA time zone name (default UTC), checked to exist."""
        tz = self.get(key, str, "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail(key, f"unknown time zone {tz!r} (e.g. Europe/Berlin, UTC)") from exc
        return tz

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            hint = did_you_mean(value, choices)
            raise self.fail(key, f"{key} must be one of {', '.join(choices)}, got {value!r}{hint}")
        return value


class Errors:
    """Each top-level key, source, channel and rule is checked on its own, so that one run
    reports every mistake in the file (raised together at the end)."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    def check(self, build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return build(*args, **kwargs)
        except ConfigErrors as exc:
            self.found += exc.errors
        except ConfigError as exc:
            self.found.append(exc)
        return None

    def each(self, section: Mapping, build: Callable[[str, Any], T]) -> dict[str, T]:
        built = {name: self.check(build, name, value) for name, value in section.items()}
        return {name: item for name, item in built.items() if item is not None}

    def raise_found(self) -> None:
        if self.found:
            raise ConfigErrors(self.found)
