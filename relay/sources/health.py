"""Per-source health: when a source last answered, when it last failed and why, how many
times in a row, and when it last brought a snapshot (by any path). Shown by /admin/sources
and /readyz, exported as relay_source_* gauges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Gauge

from relay import observability as obs
from relay.errors import RateLimited
from relay.secrets import redact

LAST_SUCCESS = Gauge("relay_source_last_success_timestamp_seconds", "Last successful poll", ["source"])
LAST_ERROR = Gauge("relay_source_last_error_timestamp_seconds", "Last failed poll", ["source"])
FAILURES = Gauge("relay_source_consecutive_failures", "Failed polls in a row", ["source"])
LAST_SNAPSHOT = Gauge("relay_source_last_snapshot_timestamp_seconds", "Last snapshot ingested", ["source"])


@dataclass
class SourceHealth:
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    last_snapshot_at: datetime | None = None

    def as_json(self, now: datetime) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat().replace("+00:00", "Z") if value else None

        lag = (now - self.last_success_at).total_seconds() if self.last_success_at else None
        return {
            "last_success_at": iso(self.last_success_at),
            "last_error_at": iso(self.last_error_at),
            "last_error": self.last_error,
            "consecutive_failures": self.consecutive_failures,
            "last_snapshot_at": iso(self.last_snapshot_at),
            "lag_seconds": round(lag, 3) if lag is not None else None,
        }


class HealthBoard:
    """Every source's health in one relay: made by the `Relay`, handed to its pollers and
    its pipeline. The gauges are the process's (one relay per process in production)."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceHealth] = {}

    def of(self, source: str) -> SourceHealth:
        return self._sources.setdefault(source, SourceHealth())

    def poll_succeeded(self, source: str, now: datetime) -> None:
        h = self.of(source)
        h.last_success_at, h.consecutive_failures = now, 0
        LAST_SUCCESS.labels(source).set(now.timestamp())
        FAILURES.labels(source).set(0)

    def poll_failed(self, source: str, now: datetime, reason: str) -> None:
        h = self.of(source)
        h.last_error_at, h.last_error = now, redact(reason)[:300]
        h.consecutive_failures += 1
        LAST_ERROR.labels(source).set(now.timestamp())
        FAILURES.labels(source).set(h.consecutive_failures)

    def snapshot_seen(self, source: str, now: datetime) -> None:
        self.of(source).last_snapshot_at = now
        LAST_SNAPSHOT.labels(source).set(now.timestamp())

    def poll_outcome(self, source: str, now: datetime, error: Exception | None = None) -> None:
        """What every poller reports after a cycle: counted, and the source's health updated."""
        outcome = "ok" if error is None else "rate_limited" if isinstance(error, RateLimited) else "error"
        obs.POLLS.labels(source, outcome).inc()
        if error is None:
            self.poll_succeeded(source, now)
        else:
            self.poll_failed(source, now, f"{type(error).__name__}: {error}")
