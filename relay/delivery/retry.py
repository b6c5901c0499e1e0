"""Retry or give up: decided here and nowhere else.

- transient: a transport error (connection refused, timeout), 408, 429, any 5xx, or a
  library that failed without saying why (apprise) -> retry;
- any other 4xx -> permanent, the receiver will not change its mind: dead letter at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from relay.channels.base import Response
from relay.config import DeliveryPolicy
from relay.models import DeliveryStatus
from relay.store import Outcome


class Verdict(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    GIVE_UP = "give_up"


def verdict(response: Response) -> Verdict:
    if response.ok:
        return Verdict.SENT
    status = response.http_status
    if status is None or status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.GIVE_UP


def reason(response: Response) -> str:
    """A short, stable description for attempts and metrics."""
    if response.ok:
        return "ok"
    if response.http_status is not None:
        return f"http_{response.http_status}"
    return response.error or "unknown"


def outcome(response: Response, rounds_before: int, policy: DeliveryPolicy, now: datetime) -> Outcome:
    """What a delivery becomes after this round's last try."""
    v = verdict(response)
    if v == Verdict.SENT:
        return Outcome(DeliveryStatus.SENT)
    why = reason(response) + (f": {response.excerpt}" if response.excerpt else "")
    if v == Verdict.GIVE_UP or rounds_before >= len(policy.schedule):
        return Outcome(DeliveryStatus.DEAD, error=why)
    delay = max(policy.schedule[rounds_before], response.retry_after or 0.0)
    return Outcome(DeliveryStatus.PENDING, now + timedelta(seconds=delay), why)
