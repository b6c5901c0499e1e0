"""Errors the relay raises on purpose.

RelayError
 +-- ConfigError        rules.yaml is invalid (carries file and line)
 +-- SourceError        a platform answered something we cannot use
 |    +-- RateLimited   the platform asked us to wait (carries retry_after seconds)
 +-- IngestError        a webhook request is rejected (carries the HTTP status to answer)
 +-- BadJson            a body is not JSON the relay can hold (also a ValueError)
"""

from __future__ import annotations


class RelayError(Exception):
    pass


class ConfigError(RelayError):
    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class SourceError(RelayError):
    pass


class RateLimited(SourceError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IngestError(RelayError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class BadJson(RelayError, ValueError):
    pass
