"""The nouns of the pipeline: frozen dataclasses, no behaviour beyond small derivations.

Snapshot (what a source told us once) -> Transition (an observed phase change)
-> Delivery (one unit of outbound work, rendered Message inside) -> Attempt (one try).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

JSON = dict[str, Any]


class StoredJSON(dict[str, Any]):
    """A JSON object read back from the store with the exact text it was stored as, so a
    webhook sends that text instead of encoding the object again. Never changed in place,
    like every payload: `|` gives a plain dict, and a copy built item by item (asdict) has
    no text: either is encoded again."""

    text: str | None = None  # set by the store's decoding only


class Phase(StrEnum):
    """Normalized lifecycle shared by every platform (docs/platforms.md section 4)."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    CRASHED = "crashed"
    EXPIRED = "expired"
    SYSTEM_ERROR = "system_error"
    SKIPPED = "skipped"  # the platform decided not to run it (not a failure)
    MISSED = "missed"  # a scheduled run that never started

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_PHASES

    @property
    def problem(self) -> bool:
        """Terminal and not a success or a user's cancel: what 'failures' rules want."""
        return self in PROBLEM_PHASES


TERMINAL_PHASES = frozenset(
    {
        Phase.SUCCEEDED,
        Phase.FAILED,
        Phase.CANCELED,
        Phase.TIMED_OUT,
        Phase.CRASHED,
        Phase.EXPIRED,
        Phase.SYSTEM_ERROR,
        Phase.SKIPPED,
        Phase.MISSED,
    }
)
PROBLEM_PHASES = TERMINAL_PHASES - {Phase.SUCCEEDED, Phase.CANCELED, Phase.SKIPPED}


class Via(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class RunError:
    message: str
    name: str | None = None
    stack_trace: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """One observation of a run, normalized; polling and webhooks produce the same thing."""

    source: str
    run_id: str
    task: str
    status: str  # the platform's own status name, kept for display and matching
    phase: Phase
    updated_at: datetime
    via: Via
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: tuple[str, ...] = ()
    is_test: bool = False
    metadata: JSON = field(default_factory=dict)
    output: JSON | None = None
    error: RunError | None = None
    duration_ms: int | None = None
    cost_cents: float | None = None
    url: str | None = None

    @property
    def terminal(self) -> bool:
        return self.phase.terminal


@dataclass(frozen=True)
class RunState:
    """What the store remembers about a run: its last accepted snapshot."""

    snapshot: Snapshot
    first_seen_at: datetime
    phase_since: datetime | None = None  # when the run was first seen in its current phase


@dataclass(frozen=True)
class Transition:
    """A run moved forward: from a phase (None: first time seen) to another."""

    id: str
    source: str
    run_id: str
    from_phase: Phase | None
    to_phase: Phase
    from_status: str | None
    to_status: str
    observed_at: datetime
    via: Via
    # first seen already finished, and finished before the relay watched the source
    backfill: bool = False
    # phases of the main line the run passed through unseen (e.g. queued -> succeeded
    # between two polls skipped running)
    skipped: tuple[Phase, ...] = ()
    # a success after the task's last finished run was a problem (failed, crashed, ...)
    recovered: bool = False

    @property
    def first_seen(self) -> bool:
        return self.from_phase is None


class Link(NamedTuple):
    """A labelled URL taken from a field that is a link (a video, an image), never from text."""

    label: str
    url: str


@dataclass(frozen=True)
class Message:
    """Rendered content for one channel: what a person (or system) receives.

    Every string is plain text that channels escape for where it lands; only `link`, `links`
    and `row_links` can become links, and only when they are http(s) URLs.
    """

    title: str
    body: str
    severity: str = "info"  # info | success | failure
    link: str | None = None  # the run's page
    fields: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()  # a table (digests, groups): a header row, then one per item
    links: tuple[Link, ...] = ()  # the video, the image
    error: str | None = None  # shown as a code block
    row_links: tuple[str | None, ...] = ()  # per item row: the URL its last cell links to
    more: int = 0  # items left out of `rows`: every channel says "… and N more"
    # the run's page in this relay's console, signed (RELAY_PUBLIC_URL; relay/links.py)
    console: str | None = None


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    SILENCED = "silenced"  # matched while a silence was active: recorded, never sent


@dataclass(frozen=True)
class Delivery:
    id: str
    transition_id: str | None  # None: not caused by one transition (a digest)
    rule: str
    channel: str
    idempotency_key: str
    message: Message
    payload: JSON  # the versioned webhook payload; other channels render from message
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    rounds: int = 0  # claims that ended in failure: the index into the retry schedule
    last_error: str | None = None
    group_key: str | None = None  # deliveries sharing one are sent as one message
    template_error: str | None = None  # the rule's template failed: the default message was sent


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    n: int
    started_at: datetime
    latency_ms: float
    ok: bool
    http_status: int | None = None
    reason: str | None = None
    excerpt: str | None = None


# the reason of an attempt cut off by the relay stopping: the receiver may have got it, and
# gets it again (same id) when the delivery is sent after the restart
INTERRUPTED = "interrupted"
INTERRUPTED_EXCERPT = "the relay stopped while sending; sent again with the same id"


@dataclass(frozen=True)
class Retention:
    """How long the store keeps what it no longer needs, in seconds (rules.yaml `retention:`).
    Pending and sending deliveries, and the state of runs not yet finished, are never pruned."""

    sent: float = 30 * 86400.0  # sent and silenced deliveries, with their attempts
    dead: float = 90 * 86400.0  # dead letters, with their attempts (kept longer: replayable)
    transitions: float = 90 * 86400.0  # transitions no delivery refers to any more
    finished_runs: float = 90 * 86400.0  # the stored state of runs in a terminal phase
    seen: float = 7 * 86400.0  # push keys remembered against replays; sent digest items


@dataclass(frozen=True)
class Backlog:
    """One channel's outbox as it stands (the backlog gauges, the console's overview)."""

    channel: str
    pending: int
    sending: int
    dead: int
    oldest_pending: datetime | None  # created_at of the oldest pending delivery
