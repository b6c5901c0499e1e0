"""Secrets never leave the process: every value substituted from the environment into the
configuration is registered here, and `redact` masks them in logs, errors, attempt excerpts
and API responses."""

from __future__ import annotations

import logging

_MIN_LEN = 6  # shorter values (ports, flags) would mask innocent text
_secrets: set[str] = set()


def register(value: str) -> None:
    if len(value) >= _MIN_LEN:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
        return True
