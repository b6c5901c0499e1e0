"""The delivery loop: claim due deliveries -> send -> record every attempt -> reschedule.

Fresh deliveries usually skip the claim: the pipeline writes them already claimed for this
worker (`reserve`, `hand`) and hands them over once committed, so a notification costs no
store round trip between its commit and its send. The store is consulted for everything
else (retries coming due, deliveries whose worker died, replays, digests, groups) when
something wakes the worker or when the next known due time comes.

In-attempt retries (tenacity: a few quick tries with exponential backoff and jitter,
honouring Retry-After) absorb blips; past them the durable schedule in the store takes over,
so a receiver that is down for hours still gets its message when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from relay import observability as obs
from relay.channels.base import Channel, Response
from relay.clock import Clock
from relay.config import DeliveryPolicy
from relay.delivery import retry
from relay.delivery.grouping import merge
from relay.delivery.ratelimit import RateGate
from relay.models import INTERRUPTED, Attempt, Delivery, DeliveryStatus
from relay.store import Outcome, Store
from relay.store.base import Claim

log = logging.getLogger("relay.delivery")

IDLE_WAIT = 1.0  # seconds between checks for due retries when nothing wakes us
MAX_QUICK_WAIT = 10.0  # a longer Retry-After goes to the durable schedule instead
# as multiples of `concurrency`: deliveries claimed and not yet waiting between quick tries
# (ready to send or sending), and, counted apart, those waiting between quick tries, so
# retries never starve fresh deliveries and both stay bounded
HOLD_FACTOR = 4
# as shares of the HTTP timeout (5 s and 10 s with the default 10 s): a send may take this
# much longer, for a channel (apprise) that keeps its own time; a lease this much more
SEND_GRACE = 0.5
LEASE_MARGIN = 1.0


@dataclass(frozen=True)
class Reservation:
    """A hand-off under way (`reserve` -> `hand`): the policy its deliveries are claimed under,
    and the room kept for them, so what a batch brings never exceeds what may be held."""

    policy: DeliveryPolicy
    owner: str  # the process the deliveries are claimed for
    room: int

    @property
    def claim(self) -> Claim:
        return Claim(_lease(self.policy), self.owner, self.room)


# Claimed deliveries (a group's members, or one) with the policy they were claimed under: their
# round runs under it even after a reload, so it never outlasts the lease they were claimed
# with (past it, another claim would take them again mid-send and they would be sent twice).
Unit = tuple[DeliveryPolicy, list[Delivery]]


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        channels: dict[str, Channel],
        policy: DeliveryPolicy,
        clock: Clock,
        wakeup: asyncio.Event,
        rate_limits: Mapping[str, tuple[int, float]] | None = None,
        owner: str = "",
    ) -> None:
        self.store, self.channels, self.policy, self.clock = store, channels, policy, clock
        self.wakeup, self.owner = wakeup, owner
        self.gate = RateGate(store, rate_limits or {})
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._pausing: dict[str, int] = {}  # delivery waiting between quick tries -> members
        # claimed, not started yet: handed over by the pipeline, or claimed ahead from the store
        self._ready: deque[Unit] = deque()
        self._nudge = asyncio.Event()  # a hand-off arrived or a send slot freed up
        self._store_due = clock.now()  # when the store may hold due work nobody woke us for
        self._waited_out = True  # the last wait ran to its time-out: look at the store
        self._reserved = 0  # room kept for pipeline writes under way that will hand here
        self._closing = False
        self._cut_off: list[Attempt] = []  # this round's attempts of sends stopped by `_drain`
        # sends that have ended, writing their outcome (first member's id -> members): their
        # send slot is free meanwhile, the next batch's commit need not hold back the next send;
        # `_drain` lets them finish (a group's members are written one by one, and one cut
        # off would be sent again)
        self._settling: dict[str, int] = {}

    def configure(self, policy: DeliveryPolicy, rate_limits: Mapping[str, tuple[int, float]]) -> None:
        """A reloaded rules.yaml: claims, retries and rate limits follow it from now on; what
        is claimed already finishes its round under the policy it was claimed with."""
        self.policy = policy
        self.gate.limit(rate_limits)

    def sending(self) -> set[asyncio.Task[None]]:
        """The sends under way; each keeps the channel it started with until it ends."""
        return set(self._inflight.values())

    def reserve(self) -> Reservation | None:
        """What the pipeline claims fresh deliveries with as it writes them, or None (busy,
        or shutting down): then they wait in the store. Ends with `hand`. The room is what may
        still be held, shared among the store's concurrent writes; a batch (a webhook body
        of many runs) that brings more leaves the rest in the store, claimed in turn, so what
        waits here stays bounded and never waits out its lease."""
        free = self.policy.concurrency * HOLD_FACTOR - self._held() - self._reserved
        if self._closing or free <= 0:
            return None
        room = max(1, free // self.store.writers)
        self._reserved += room
        return Reservation(self.policy, self.owner, room)

    def hand(self, deliveries: list[Delivery], reservation: Reservation) -> None:
        """Ends a reservation: what the pipeline wrote claimed (none if its write failed)."""
        self._reserved -= reservation.room
        self._ready.extend((reservation.policy, [d]) for d in deliveries)
        self._nudge.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self._nudge.clear()
                free = self._free()
                if len(self._ready) < free and self._store_may_have_work():
                    self._ready.extend(await self._claim())
                units = [self._ready.popleft() for _ in range(min(free, len(self._ready)))]
                for policy, members in units:
                    task = asyncio.create_task(self._deliver_safely(members, policy))
                    for member in members:
                        self._inflight[member.id] = task
                if not units:
                    await self._idle(stop, listen_to_store=free > 0)
        finally:
            await self._drain()

    def _free(self) -> int:
        pausing = sum(self._pausing.values())
        if pausing >= self.policy.concurrency * HOLD_FACTOR:
            return 0  # too many retries waiting: they go first
        sending = len(self._inflight) - pausing - sum(self._settling.values())
        return max(0, self.policy.concurrency - sending)

    def _store_may_have_work(self) -> bool:
        return self.wakeup.is_set() or self._waited_out or self.clock.now() >= self._store_due

    def _held(self) -> int:
        """Claimed and ready or sending; not those waiting between quick tries."""
        return sum(len(m) for _, m in self._ready) + len(self._inflight) - sum(self._pausing.values())

    async def _claim(self) -> list[Unit]:
        """As many due deliveries as may be held: claimed ahead, one statement serves many
        sends (a backlog drains at the send rate, not at one claim per freed slot)."""
        self.wakeup.clear()
        self._waited_out = False
        policy = self.policy  # the one its lease is counted in, whatever a reload does meanwhile
        want = max(1, policy.concurrency * HOLD_FACTOR - self._held() - self._reserved)
        claimed = await self.store.claim(self.clock.now(), want, _lease(policy), self.owner)
        if len(claimed) < want:  # nothing more is due now: note when something will be
            due, horizon = await self.store.next_due(), self.clock.now() + timedelta(seconds=IDLE_WAIT)
            self._store_due = min(due, horizon) if due else horizon
        return [(policy, members) for members in _by_group(claimed)]

    def _due_at(self, moment: datetime | None) -> None:
        if moment is not None:
            self._store_due = min(self._store_due, moment)

    async def _idle(self, stop: asyncio.Event, *, listen_to_store: bool) -> None:
        wait = IDLE_WAIT
        if listen_to_store:
            wait = min(IDLE_WAIT, max(0.005, (self._store_due - self.clock.now()).total_seconds()))
        events = [self._nudge, stop] + ([self.wakeup] if listen_to_store else [])
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        done, _ = await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        self._waited_out = not done
        for w in waiters:
            w.cancel()

    async def _drain(self) -> None:
        """On shutdown: sends in flight get `shutdown_grace` to finish; then they are stopped
        and, with those not started, given back (with what writes under way hand over:
        claimed, they would wait for their lease otherwise). A stopped send is recorded as an
        `interrupted` attempt: its receiver may have it, and gets it again after a restart.
        A send that has ended is never stopped while its outcome is written."""
        self._closing, grace = True, self.policy.shutdown_grace
        if self._inflight:
            log.info("delivery_draining sending=%d grace=%gs", len(self._inflight), grace)
        deadline = time.monotonic() + grace
        while self._reserved and time.monotonic() < deadline:
            self._nudge.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), deadline - time.monotonic())
        tasks = list(set(self._inflight.values()))
        ids = list(self._inflight) + [d.id for _, members in self._ready for d in members]
        self._ready.clear()
        if tasks:
            await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
        settling = {self._inflight.get(i) for i in self._settling}
        for task in tasks:
            if task not in settling:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if ids:
            await self.store.release(ids, self._cut_off)

    async def _deliver_safely(self, members: list[Delivery], policy: DeliveryPolicy) -> None:
        """A bug here must not strand a claimed delivery until its lease runs out."""
        try:
            await self._deliver(members, policy)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("delivery_crashed id=%s channel=%s", members[0].id, members[0].channel)
            crash = Response(ok=False, error=type(exc).__name__)
            for d in members:
                outcome = retry.outcome(crash, d.rounds, self.policy, self.clock.now())
                await self.store.complete(d.id, [], outcome)
                self._due_at(outcome.next_attempt_at)
        finally:
            self._settling.pop(members[0].id, None)
            self._pausing.pop(members[0].id, None)
            for d in members:
                self._inflight.pop(d.id, None)
            self._nudge.set()  # its slot is free

    async def _deliver(self, members: list[Delivery], policy: DeliveryPolicy) -> None:
        """Members share a group (or are one delivery): one message, one outcome for all. Its
        tries run under `policy`, the one they were claimed with; the schedule after them
        follows the policy in force."""
        delivery = merge(members)
        if free_at := await self.gate.admit(delivery.channel, self.clock.now()):
            group = f"rate:{delivery.channel}:{free_at.timestamp():.0f}"
            await self.store.defer([d.id for d in members], free_at, group)
            self._due_at(free_at)
            log.info(
                "delivery_deferred id=%s channel=%s reason=rate_limit until=%s",
                delivery.id,
                delivery.channel,
                free_at.isoformat(),
            )
            return
        channel = self.channels.get(delivery.channel)
        if channel is None:
            error = f"channel {delivery.channel!r} is no longer configured or is disabled"
            for d in members:
                await self.store.complete(d.id, [], Outcome(DeliveryStatus.DEAD, error=error))
            log.warning("delivery_dead id=%s reason=%s", delivery.id, error)
            return
        attempts: list[Attempt] = []
        try:
            response = await self._try_quickly(channel, delivery, attempts, policy, len(members))
        except asyncio.CancelledError:  # stopped by `_drain`, which records them
            self._cut_off += [a for d in members for a in _own(d, attempts)]
            raise
        self._settling[members[0].id] = len(members)
        self._nudge.set()  # its send slot is free
        outcome = retry.outcome(response, delivery.rounds, self.policy, self.clock.now())
        for d in members:
            await self.store.complete(d.id, _own(d, attempts), outcome)
        self._due_at(outcome.next_attempt_at)
        self._report(delivery, outcome)

    async def _try_quickly(
        self,
        channel: Channel,
        delivery: Delivery,
        attempts: list[Attempt],
        policy: DeliveryPolicy,
        members: int = 1,
    ) -> Response:
        timeout = policy.timeout
        first = await self._attempt(channel, delivery, attempts, timeout)
        if retry.verdict(first) != retry.Verdict.RETRY or policy.quick_tries < 2:
            return first  # the common case needs no retry machinery
        replayed = [first]  # tenacity's first attempt is the one just made: same waits, same stops

        async def attempt() -> Response:
            return replayed.pop() if replayed else await self._attempt(channel, delivery, attempts, timeout)

        def pause(state: RetryCallState) -> None:  # its slot is free while it waits
            self._pausing[delivery.id] = members
            self._nudge.set()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.quick_tries) | _LongRetryAfter(),
            wait=_Wait(policy.quick_wait),
            retry=retry_if_result(lambda r: retry.verdict(r) == retry.Verdict.RETRY),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            before_sleep=pause,
        )
        response: Response = await retrying(attempt)
        return response

    async def _attempt(
        self, channel: Channel, delivery: Delivery, attempts: list[Attempt], timeout: float
    ) -> Response:
        self._pausing.pop(delivery.id, None)
        started, t0 = self.clock.now(), time.perf_counter()
        try:
            async with asyncio.timeout(timeout * (1 + SEND_GRACE)):  # no task of its own, as wait_for's
                response = await channel.send(delivery)
        except TimeoutError:
            response = Response(ok=False, error="timeout")
        except asyncio.CancelledError:
            latency = (time.perf_counter() - t0) * 1000
            cut = Response(ok=False, error=INTERRUPTED)
            attempts.append(_attempt_record(delivery, len(attempts), started, latency, cut))
            raise
        except Exception as exc:  # a channel bug must not kill the worker
            log.exception("attempt_crashed id=%s channel=%s", delivery.id, channel.name)
            response = Response(ok=False, error=type(exc).__name__)
        latency = (time.perf_counter() - t0) * 1000
        attempts.append(_attempt_record(delivery, len(attempts), started, latency, response))
        obs.ATTEMPTS.labels(channel.name, retry.reason(response)).inc()
        obs.ATTEMPT_SECONDS.labels(channel.name).observe(latency / 1000)
        if not response.ok:
            log.info(
                "attempt_failed id=%s channel=%s reason=%s", delivery.id, channel.name, retry.reason(response)
            )
        return response

    def _report(self, delivery: Delivery, outcome: Outcome) -> None:
        obs.DELIVERIES.labels(delivery.channel, outcome.status.value).inc()
        if outcome.status == DeliveryStatus.SENT:
            log.info("delivery_sent id=%s rule=%s channel=%s", delivery.id, delivery.rule, delivery.channel)
        elif outcome.status == DeliveryStatus.DEAD:
            log.warning(
                "delivery_dead id=%s channel=%s error=%s", delivery.id, delivery.channel, outcome.error
            )
        else:
            log.info(
                "delivery_rescheduled id=%s channel=%s at=%s",
                delivery.id,
                delivery.channel,
                _iso(outcome.next_attempt_at),
            )


def _lease(policy: DeliveryPolicy) -> float:
    """Long enough for the slowest possible round (every try timing out, every pause at its
    cap): a delivery whose worker died is claimed again once this has passed."""
    tries, send = policy.quick_tries, policy.timeout * (1 + SEND_GRACE)
    return send * tries + MAX_QUICK_WAIT * (tries - 1) + policy.timeout * LEASE_MARGIN


def _attempt_record(d: Delivery, index: int, started: datetime, latency: float, r: Response) -> Attempt:
    return Attempt(
        delivery_id=d.id,
        n=d.attempts + index + 1,
        started_at=started,
        latency_ms=latency,
        ok=r.ok,
        http_status=r.http_status,
        reason=retry.reason(r),
        excerpt=r.excerpt,
    )


def _own(member: Delivery, attempts: list[Attempt]) -> list[Attempt]:
    """A group's attempts as one member's, numbered after that member's earlier ones."""
    if attempts and attempts[0].delivery_id == member.id:
        return attempts  # made for this very delivery (one alone), numbered after its own
    return [replace(a, delivery_id=member.id, n=member.attempts + i + 1) for i, a in enumerate(attempts)]


class _Wait:
    """Exponential backoff with jitter, or the receiver's Retry-After when it gave one."""

    def __init__(self, initial: float) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial, max=MAX_QUICK_WAIT)

    def __call__(self, state: RetryCallState) -> float:
        response = state.outcome.result() if state.outcome else None
        if isinstance(response, Response) and response.retry_after is not None:
            return response.retry_after
        return float(self._backoff(state))


class _LongRetryAfter(stop_base):
    """Stop quick tries when the receiver asks for a longer pause: the schedule waits it out."""

    def __call__(self, state: RetryCallState) -> bool:
        response = state.outcome.result() if state.outcome and not state.outcome.failed else None
        return isinstance(response, Response) and (response.retry_after or 0) > MAX_QUICK_WAIT


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def _by_group(claimed: list[Delivery]) -> list[list[Delivery]]:
    """Claimed deliveries as send units: a group's members together, the rest alone."""
    groups: dict[str, list[Delivery]] = {}
    units: list[list[Delivery]] = []
    for d in claimed:
        if d.group_key is None:
            units.append([d])
        elif d.group_key in groups:
            groups[d.group_key].append(d)
        else:
            groups[d.group_key] = [d]
            units.append(groups[d.group_key])
    return units
