"""Suppressed counts (issue 12), as every store keeps them: messages of a rule and channel that
never go out (a silence muted them, once_per let an earlier one through) are counted in a row
per (rule, channel, reason), in the transaction that decided so. The next delivery of that rule
and channel that will go out takes the rows in the same kind of transaction: the counts become
part of its payload (`suppressed`), so a resend of it says the same and nothing is counted
twice or lost. Messages held to go out later (group windows, quiet hours, rate limits) are not
counted here: the grouped message that carries them counts its members (delivery/grouping.py).

Pure: the stores call these around their own reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from relay.models import Delivery, DeliveryStatus
from relay.store.codec import from_epoch

SUPPRESSED = "suppressed"  # the payload key (relay/delivery/grouping.py reads it)
ONCE_KEY = "once:"  # the idempotency key's prefix of a once_per delivery (relay/dispatch.py)


@dataclass(frozen=True)
class SuppressedCount:
    """Messages of a rule and channel that did not go out on their own, for one reason, since
    the earliest of them. `held`: still waiting to go out in a group (quiet hours, group window,
    rate limit); otherwise never sent, and told by the next message that goes out."""

    rule: str
    channel: str
    reason: str
    count: int
    since: datetime
    held: bool = False


def carriers(planned: Sequence[Delivery]) -> dict[tuple[str, str], Delivery]:
    """Per (rule, channel), the first delivery planned that will go out (not silenced)."""
    found: dict[tuple[str, str], Delivery] = {}
    for d in planned:
        if d.status != DeliveryStatus.SILENCED:
            found.setdefault((d.rule, d.channel), d)
    return found


def carry(d: Delivery, counts: Sequence[SuppressedCount]) -> Delivery:
    if not counts:
        return d
    told = [{"reason": c.reason, "count": c.count, "since": c.since.isoformat()} for c in counts]
    return replace(d, payload=d.payload | {SUPPRESSED: told})


def carried(d: Delivery) -> list[SuppressedCount]:
    """The counts a delivery carries (to give back when it was not written after all)."""
    return [
        SuppressedCount(
            d.rule, d.channel, str(c["reason"]), int(c["count"]), datetime.fromisoformat(c["since"])
        )
        for c in d.payload.get(SUPPRESSED) or ()
    ]


def counted(
    planned: Iterable[Delivery], written: set[str], carrying: Iterable[Delivery], now: datetime
) -> list[SuppressedCount]:
    """What to add to the counts after writing `planned` (`written`: the ids written): each
    silenced delivery written, each once_per one not written (an earlier one went out this
    period), and the counts `carrying` deliveries took but were not written with. One row per
    (rule, channel, reason)."""
    found: list[SuppressedCount] = []
    for d in planned:
        if d.id in written and d.status == DeliveryStatus.SILENCED:
            found.append(SuppressedCount(d.rule, d.channel, "silence", 1, now))
        elif d.id not in written and d.idempotency_key.startswith(ONCE_KEY):
            found.append(SuppressedCount(d.rule, d.channel, "once_per", 1, now))
    found += [c for d in carrying if d.id not in written for c in carried(d)]
    return merged(found)


def merged(counts: Iterable[SuppressedCount]) -> list[SuppressedCount]:
    rows: dict[tuple[str, str, str], SuppressedCount] = {}
    for c in counts:
        key = (c.rule, c.channel, c.reason)
        if key in rows:
            before = rows[key]
            c = replace(before, count=before.count + c.count, since=min(before.since, c.since))
        rows[key] = c
    return list(rows.values())


def held_reason(group_key: str) -> str:
    kind = group_key.split(":", 1)[0]
    return {"quiet": "quiet_hours", "rate": "rate_limit"}.get(kind, "group_window")


def from_rows(kept: Iterable[Sequence[Any]], held: Iterable[Sequence[Any]]) -> list[SuppressedCount]:
    """SQL rows -> counts: `kept` (rule, channel, reason, count, since epoch) of the counts
    table, `held` (rule, channel, group_key, count, earliest created_at epoch) per pending
    group."""
    rows = [SuppressedCount(str(r), str(ch), str(why), int(n), from_epoch(t)) for r, ch, why, n, t in kept]
    waiting = merged(
        SuppressedCount(str(r), str(ch), held_reason(str(g)), int(n), from_epoch(t), held=True)
        for r, ch, g, n, t in held
    )
    return sorted(rows + waiting, key=lambda c: (c.rule, c.channel, c.held, c.reason))
