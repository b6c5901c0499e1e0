"""Errors the relay raises on purpose.

RelayError
 +-- ConfigError        rules.yaml is invalid (carries file and line)
 |    +-- ConfigErrors  several at once: every mistake found in one file
 +-- SourceError        a platform answered something we cannot use
 |    +-- RateLimited   the platform asked us to wait (carries retry_after seconds)
 |    +-- FetchRefused  a URL from run data points where the relay may not fetch (relay.netguard)
 +-- IngestError        a webhook request is rejected (carries the HTTP status to answer)
 +-- StoreError         the database cannot be opened
 +-- BadJson            a body is not JSON the relay can hold (also a ValueError)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from difflib import get_close_matches


class RelayError(Exception):
    pass


class ConfigError(RelayError):
    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class ConfigErrors(ConfigError):
    """str() is one `file:line: message` a line, in the order of the file."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.line or 0)
        super().__init__(self.errors[0].message, self.errors[0].file, self.errors[0].line)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def did_you_mean(word: str, choices: Iterable[str], fold: Callable[[str], str] = str) -> str:
    """' (did you mean 'x'?)' for a near miss among `choices` (compared `fold`ed), else ''."""
    folded = {fold(c): c for c in choices}
    close = get_close_matches(fold(word), list(folded), n=1)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""


class SourceError(RelayError):
    pass


class RateLimited(SourceError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FetchRefused(SourceError):
    pass


class IngestError(RelayError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class StoreError(RelayError):
    pass


class BadJson(RelayError, ValueError):
    pass
