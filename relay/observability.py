"""Logging setup and the Prometheus metrics (relay_<noun>_<unit|total>)."""

from __future__ import annotations

import json
import logging
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TextIO

from prometheus_client import Counter, Gauge, Histogram

from relay import secrets
from relay.models import Backlog, Delivery
from relay.redaction import DEFAULT as BUILT_IN

SNAPSHOTS = Counter("relay_snapshots_total", "Snapshots ingested", ["source", "via", "outcome"])
TRANSITIONS = Counter("relay_transitions_total", "Transitions observed", ["source", "to_phase"])
REJECTED = Counter("relay_webhooks_rejected_total", "Webhook requests rejected", ["source", "reason"])
POLLS = Counter("relay_polls_total", "Poll requests to platforms", ["source", "outcome"])
ATTEMPTS = Counter("relay_attempts_total", "Delivery attempts", ["channel", "outcome"])
DELIVERIES = Counter("relay_deliveries_total", "Deliveries finished", ["channel", "status"])
ATTEMPT_SECONDS = Histogram("relay_attempt_seconds", "Delivery attempt latency", ["channel"])
# Alertmanager's names (alert on `relay_config_last_reload_successful == 0`)
LEADER = Gauge(
    "relay_leader",
    "1 while this replica leads a lease: a source's poller (kind=poll) or the clock-driven jobs (kind=job)",
    ["kind", "name"],
)
CONFIG_LOADED = Gauge("relay_config_last_reload_successful", "Whether the last configuration reload worked")
CONFIG_LOADED_AT = Gauge(
    "relay_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded"
)


BACKLOG = Gauge(
    "relay_deliveries_backlog",
    "Deliveries pending, sending or dead per channel, in the store (every replica's)",
    ["channel", "status"],
)
OLDEST_PENDING = Gauge(
    "relay_oldest_pending_age_seconds",
    "Age of the oldest pending delivery per channel (0: none)",
    ["channel"],
)
BUILD_INFO = Gauge("relay_build_info", "The relay's version and Python's (always 1)", ["version", "python"])
BUILD_INFO.labels(version("run-relay"), platform.python_version()).set(1)


def show_backlog(backlog: list[Backlog], channels: Iterable[str], now: datetime) -> None:
    """The backlog gauges as the store has them now: every configured channel is shown (0 when
    nothing is owed), and so is any other channel deliveries still name."""
    by_channel = {b.channel: b for b in backlog}
    for channel in sorted(set(channels) | set(by_channel)):
        b = by_channel.get(channel) or Backlog(channel, 0, 0, 0, None)
        for status, count in (("pending", b.pending), ("sending", b.sending), ("dead", b.dead)):
            BACKLOG.labels(channel, status).set(count)
        age = (now - b.oldest_pending).total_seconds() if b.oldest_pending else 0.0
        OLDEST_PENDING.labels(channel).set(max(age, 0.0))


PRUNED = Counter("relay_pruned_rows_total", "Rows the pruning job deleted", ["table"])


def pruned(counts: dict[str, int]) -> None:
    for table, n in counts.items():
        PRUNED.labels(table).inc(n)


def config_loaded(now: datetime) -> None:
    """At start and after each reload that took effect."""
    CONFIG_LOADED.set(1)
    CONFIG_LOADED_AT.set(now.timestamp())


def config_refused() -> None:
    """A reload found the file invalid: the configuration in force stays."""
    CONFIG_LOADED.set(0)


TEMPLATE_ERRORS = Counter(
    "relay_template_errors_total",
    "Deliveries sent with the default message: the rule's template failed",
    ["rule"],
)
log = logging.getLogger("relay.templates")


@dataclass
class TemplateErrors:
    """Counts every delivery whose rule's template failed, and logs once per rule: a template
    that breaks on a common kind of run would otherwise log once per run."""

    logged: set[str] = field(default_factory=set)

    def report(self, deliveries: Iterable[Delivery]) -> None:
        for d in deliveries:
            if d.template_error is None:
                continue
            TEMPLATE_ERRORS.labels(d.rule).inc()
            if d.rule not in self.logged:
                self.logged.add(d.rule)
                log.warning(
                    "template_failed rule=%s error=%s (sent the default message instead;"
                    " logged once per rule; `relay check` tries every template)",
                    d.rule,
                    d.template_error,
                )


LOG_FORMATS = ("text", "json")


def log_handler(stream: TextIO | None = None, fmt: str = "text") -> logging.Handler:
    """Every line the process logs passes this handler's masking, libraries' lines too."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(_Masking())
    return handler


# what every LogRecord carries; anything else on a record came with `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """RELAY_LOG_FORMAT=json: one JSON object per line (time, level, logger, message, the
    `extra=` fields, the traceback as `exc_info`), for log shippers that parse no text. The
    masking filter has run on message and traceback; extra fields are masked here."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = (
                    value if isinstance(value, int | float | bool) or value is None else _mask(str(value))
                )
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


class _Masking(logging.Filter):
    """Masks the message, its arguments and any traceback (an exception's text may quote a
    URL): the secrets the configuration holds (relay.secrets) and, as run data reaches log
    lines too (task names, a platform's error), what looks like one (relay.redaction's
    built-in patterns, whatever rules.yaml switches)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _mask(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _mask(record.exc_text)
        if record.stack_info:
            record.stack_info = _mask(record.stack_info)
        return True


def _mask(text: str) -> str:
    return BUILT_IN.text(secrets.redact(text))


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [log_handler(fmt=fmt)]
    root.setLevel(level.upper())
    # request-per-line chatter from the HTTP stack; our own lines say what matters
    for noisy in ("uvicorn.access", "httpx2", "httpcore2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
