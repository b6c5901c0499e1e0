"""The settings rules.yaml describes, as frozen dataclasses: sources, channels, delivery, rules.

`relay.config.load` builds them from the file; every stage reads them and none writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.config.matching import Matcher
from relay.digests import DigestSpec
from relay.models import Retention
from relay.netguard import PUBLIC_ONLY, NetworkPolicy
from relay.quiet import QuietHours
from relay.redaction import DEFAULT, Redaction
from relay.render.templates import RuleTemplate

COMMON_SOURCE_OPTIONS = (
    "kind",
    "enabled",
    "base_url",
    "api_key",
    "poll_every",
    "limit",
    "webhook_secret",
    "run_url",
)
CHANNEL_KINDS = ("console", "slack", "webhook", "apprise")
FIRST_SEEN = ("recent", "always", "never")
MIN_POLL_EVERY = 0.05  # rejects 0, which would be a hot loop against the platform


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    base_url: str
    api_key: str = ""
    poll_every: float = 30.0
    limit: int = 100
    webhook_secrets: tuple[str, ...] = ()  # any of them authenticates a pushed update (rotation)
    run_url: str | None = None  # e.g. "https://example.com/runs/{run_id}"
    enabled: bool = True  # off: neither polled nor accepted by webhook
    options: Mapping[str, Any] = field(default_factory=dict)  # kind-specific: see relay.config.kinds
    # where URLs in its run data (a presigned output) may point: the top-level `network`
    network: NetworkPolicy = PUBLIC_ONLY


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    kind: str
    url: str = ""
    secrets: tuple[str, ...] = ()  # a webhook channel signs with each (rotation)
    headers: tuple[tuple[str, str], ...] = ()
    rate_limit: tuple[int, float] | None = None  # at most N messages per period (seconds)
    line: int = field(default=0, compare=False)
    quiet_hours: QuietHours | None = None  # its rules' matches are held meanwhile (relay/quiet.py)

    @property
    def enabled(self) -> bool:
        return self.kind == "console" or bool(self.url)


@dataclass(frozen=True)
class Rule:
    name: str
    matcher: Matcher
    notify: tuple[str, ...]
    first_seen: str = "recent"
    template: RuleTemplate | None = None
    digest: DigestSpec | None = None  # collect, and send one message per schedule
    group_window: float | None = None  # seconds: a burst of matches becomes one message
    once_per: OncePer | None = None  # notify once per key per period
    stuck_after: float | None = None  # seconds a run may stay in a matched, non-terminal phase
    redaction: Redaction = DEFAULT  # how the run's data is masked in this rule's messages
    line: int = field(default=0, compare=False)  # where it starts in rules.yaml (the console)
    quiet_hours: QuietHours | None = None  # held meanwhile; overrides the channel's
    urgent: Matcher | None = None  # what of it goes out during quiet hours all the same


@dataclass(frozen=True)
class OncePer:
    key: RuleTemplate  # rendered with the run's fields, e.g. "{{ run.task }}"
    period: float


@dataclass(frozen=True)
class DeliveryPolicy:
    """Durable retry schedule (seconds after each failed attempt); dead after the last."""

    schedule: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
    quick_tries: int = 3  # in-attempt tries (tenacity) before falling back to the schedule
    quick_wait: float = 0.2  # first in-attempt backoff; doubles, with jitter
    timeout: float = 10.0
    concurrency: int = 16
    shutdown_grace: float = 5.0  # on stop: how long sends in flight may take to finish


@dataclass(frozen=True)
class RuleSet:
    path: str
    sources: dict[str, SourceConfig]
    channels: dict[str, ChannelConfig]
    rules: tuple[Rule, ...]
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    redaction: Redaction = DEFAULT  # the file's policy (a rule may switch it with `redact`)
    retention: Retention = field(default_factory=Retention)  # what the pruning job keeps
