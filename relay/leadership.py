"""Leader leases: exactly one process at a time polls a given source ("poll:<source>") and runs
the clock-driven jobs ("job:scheduler": digests, stuck runs, pruning), however many replicas
share the store.

Each process asks the store for every lease it wants every `ttl / 5` seconds (`Store.hold`:
take it if free or run out, renew it if its own). A process counts itself leader only until
half the lease has passed since its last successful renewal began, and its user is told then
(a round is brought forward to that moment; a renewal unanswered by then has failed), so it
has stopped well before the store lets another take over, even if the store stops answering
it. When a leader
dies, its lease runs out and the next round of another process takes it: failover within
`ttl` plus a round. The lease's owner is the process's replica id, the same after a restart,
so a restarted process takes back what it led at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from relay import observability as obs
from relay.clock import Clock
from relay.store import Store

log = logging.getLogger("relay.leadership")

SCHEDULER = "job:scheduler"
MIN_WAIT = 0.01  # seconds: the shortest wait between rounds

# called with True when this process becomes the leader of a lease, False when it stops being it
OnChange = Callable[[bool], Awaitable[None]]


def poll_lease(source: str) -> str:
    return f"poll:{source}"


@dataclass
class Leadership:
    store: Store
    owner: str  # this process's replica id
    clock: Clock
    ttl: float = 15.0  # seconds
    _wanted: dict[str, OnChange] = field(default_factory=dict)
    _until: dict[str, datetime] = field(default_factory=dict)  # lease -> led until (local)
    _told: set[str] = field(default_factory=set)  # leases whose user was told it leads
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def every(self) -> float:
        """Seconds between rounds, and the most one renewal may take: a round that fails
        finds the lease lapsed (`ttl / 2` after the last renewal began) before the store does."""
        return self.ttl / 5

    def leads(self, name: str) -> bool:
        until = self._until.get(name)
        return until is not None and self.clock.now() < until

    def led(self) -> list[str]:
        return sorted(name for name in self._told if self.leads(name))

    async def want(self, name: str, on_change: OnChange) -> None:
        """Compete for `name` from now on; `on_change` hears when this process gains or loses it."""
        async with self._lock:
            self._wanted[name] = on_change
            await self._renew([name])

    async def drop(self, name: str) -> None:
        """Stop competing for `name` (a source removed, a clean stop): let it go at once."""
        async with self._lock:
            on_change = self._wanted.pop(name, None)
            self._until.pop(name, None)
            if name in self._told and on_change is not None:
                await self._tell(name, on_change, False, "lease_released")
            with contextlib.suppress(Exception):  # unreleased, it runs out by itself
                await self.store.let_go(name, self.owner)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                async with self._lock:
                    await self._renew(list(self._wanted))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.next_round())
        finally:
            for name in list(self._wanted):
                await self.drop(name)

    async def _renew(self, names: list[str]) -> None:
        began = self.clock.now()
        tokens = await asyncio.gather(*(self._hold(name, began) for name in names))
        for name, token in zip(names, tokens, strict=True):
            if token is not None:
                self._until[name] = began + timedelta(seconds=self.ttl / 2)
            if self.leads(name) != (name in self._told):
                await self._tell(name, self._wanted[name], self.leads(name), "lease_lost")

    def next_round(self) -> float:
        """Seconds until the next round: `every`, or less when a lease this process leads lapses
        sooner (renewals failing), so that its user is told then and not up to a round later."""
        return min([self.every, *(self._left(name) for name in self._told)])

    def _left(self, name: str) -> float:
        """Seconds until `name` lapses here (a floor keeps a late round from spinning)."""
        until = self._until.get(name)
        left = self.every if until is None else (until - self.clock.now()).total_seconds()
        return max(MIN_WAIT, left)

    async def _hold(self, name: str, now: datetime) -> int | None:
        # a renewal still unanswered when the lease lapses here is a failed one: waiting longer
        # would keep this process leading past its deadline, towards the store's
        timeout = min(self.every, self._left(name)) if name in self._told else self.every
        try:
            return await asyncio.wait_for(self.store.hold(name, self.owner, now, self.ttl), timeout)
        except Exception as exc:  # the store is away: this process leads until its lease lapses
            log.warning("lease_renewal_failed lease=%s error=%s", name, type(exc).__name__)
            return None

    async def _tell(self, name: str, on_change: OnChange, leading: bool, ended: str) -> None:
        if leading:
            self._told.add(name)
            log.info("lease_taken lease=%s owner=%s", name, self.owner)
        else:
            self._told.discard(name)
            log.log(
                logging.WARNING if ended == "lease_lost" else logging.INFO,
                "%s lease=%s owner=%s",
                ended,
                name,
                self.owner,
            )
        kind, _, subject = name.partition(":")
        obs.LEADER.labels(kind, subject).set(float(leading))
        await on_change(leading)
