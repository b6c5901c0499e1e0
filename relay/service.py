"""The running relay assembled in one place: store, pipeline, channels, worker, pollers.

`Relay.start` brings the parts up in order, `Relay.stop` takes them down in reverse:
pollers stop, then the worker finishes or releases what it claimed, then the store closes.
Several processes may share one store (replicas): each polls a source and runs the clock's
jobs only while it holds their leader lease (relay/leadership.py).
`Relay.reload` puts a new rules.yaml in force while it runs (SIGHUP, POST /admin/reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx2 as httpx

from relay import observability as obs
from relay.channels.base import Channel
from relay.channels.registry import open_channel
from relay.clock import Clock, SystemClock
from relay.config import RuleSet, SourceConfig, load_ruleset
from relay.delivery.worker import DeliveryWorker
from relay.errors import ConfigError
from relay.leadership import SCHEDULER, Leadership, poll_lease
from relay.links import RunLinks, derive_key
from relay.pipeline import Pipeline
from relay.rules.changes import Changes
from relay.rules.changes import changes as compare
from relay.scheduler import Scheduler
from relay.settings import Settings
from relay.silences import Silence
from relay.sources.base import Poller, SourceKind
from relay.sources.registry import kind_of
from relay.sources.state import SourceState
from relay.store import Store, open_store

log = logging.getLogger("relay")

SILENCE_REFRESH = 5.0  # seconds


@dataclass
class _Polling:
    """One source's poller as it runs; a reload that changes the source stops it alone."""

    poller: Poller
    client: httpx.AsyncClient
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass
class Relay:
    settings: Settings
    ruleset: RuleSet
    store: Store
    pipeline: Pipeline
    clock: Clock
    # what the sources remember while this relay runs: health, replay memory, rate budgets
    sources: SourceState = field(default_factory=SourceState)
    channels: dict[str, Channel] = field(default_factory=dict)
    worker: DeliveryWorker | None = None
    scheduler: Scheduler | None = None
    leadership: Leadership | None = None
    _polling: dict[str, _Polling] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _reloading: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None) -> Relay:
        ruleset = load_ruleset(settings.config_path)
        store = await open_store(settings.database_url)
        clock = clock or SystemClock()
        sources = SourceState(store=store)
        links = run_links(settings)
        pipeline = Pipeline(store, ruleset, clock, asyncio.Event(), health=sources.health, links=links)
        relay = cls(settings, ruleset, store, pipeline, clock, sources)
        relay.leadership = Leadership(store, settings.owner, clock, settings.lease_ttl)
        await store.on_due(pipeline.wakeup.set)  # PostgreSQL: also what other replicas wrote
        opened, problems = _open_channels(ruleset, ruleset.channels)
        relay.channels.update(opened)
        for problem in problems:
            log.error("channel_disabled %s", problem)
        relay.pipeline.silences = await store.silences(clock.now())
        relay._spawn(relay._refresh_silences(), "silences")
        if settings.workers:
            # this process restarted: what it was sending when it stopped is due again at once
            if taken := await store.expire_claims(settings.owner, clock.now()):
                log.warning("claims_taken_back owner=%s deliveries=%d", settings.owner, taken)
            relay.worker = DeliveryWorker(
                store,
                relay.channels,
                ruleset.delivery,
                clock,
                relay.pipeline.wakeup,
                _rate_limits(ruleset),
                owner=settings.owner,
            )
            relay.pipeline.handoff = relay.worker
            relay._spawn(relay.worker.run(relay._stop), "worker")
        await relay._open_pollers(ruleset.sources)
        if settings.scheduler:
            relay.scheduler = Scheduler(
                store,
                ruleset,
                clock,
                relay.pipeline.wakeup,
                template_errors=relay.pipeline.template_errors,
                leads=partial(relay.leadership.leads, SCHEDULER),
                prune_every=settings.prune_every,
                links=links,
            )
            await relay.leadership.want(SCHEDULER, _nothing)
            relay._spawn(relay.scheduler.run(relay._stop, settings.scheduler_every), "scheduler")
        relay._spawn(relay.leadership.run(relay._stop), "leadership")
        obs.config_loaded(clock.now())
        log.info(
            "relay_started replica=%s config=%s database=%s sources=%d channels=%d rules=%d",
            settings.owner,
            settings.config_path,
            settings.database_url.split("?")[0],
            len(ruleset.sources),
            len(relay.channels),
            len(ruleset.rules),
        )
        return relay

    @property
    def pollers(self) -> dict[str, Poller]:
        return {name: running.poller for name, running in self._polling.items()}

    async def reload(self) -> Changes:
        """Put rules.yaml as it is now in force. An invalid file raises ConfigError and changes
        nothing. Otherwise every part reads the new rules from one moment on the event loop;
        sends under way finish on the channels they began with (closed after them); changed
        and removed sources' pollers stop, new and changed ones start."""
        async with self._reloading:
            if self._stop.is_set():
                raise RuntimeError("the relay is stopping")
            ruleset, changes, opened = await self._prepare()
            sending = self.worker.sending() if self.worker else set()
            if retired := self._swap(ruleset, changes, opened):
                self._spawn(_close_after(retired, sending), "close-channels")
            await self._stop_pollers(changes.sources.to_close)
            await self._open_pollers(changes.sources.to_open)
        obs.config_loaded(self.clock.now())
        log.info("config_reloaded config=%s rules=%d %s", ruleset.path, len(ruleset.rules), changes.summary())
        return changes

    def reload_soon(self) -> None:
        """SIGHUP: reload in the background (an invalid file is logged by `reload`)."""
        self._spawn(self._reload_quietly(), "reload")

    async def _reload_quietly(self) -> None:
        with contextlib.suppress(ConfigError, RuntimeError):
            await self.reload()

    async def _prepare(self) -> tuple[RuleSet, Changes, dict[str, Channel]]:
        """Everything that can refuse the file, before anything changes: parse it, open the
        channels it adds or changes (apprise checks its URLs here, as `relay check` does)."""
        try:
            # off the event loop: reading and compiling a large file must not stall ingest
            ruleset = await asyncio.to_thread(load_ruleset, self.settings.config_path)
            changes = compare(self.ruleset, ruleset)
            opened, problems = _open_channels(ruleset, changes.channels.to_open)
            if problems:
                await _close(opened.values())
                raise problems[0]
        except ConfigError as exc:
            obs.config_refused()
            log.error("config_reload_failed error=%s (the configuration in force stays)", exc)
            raise
        return ruleset, changes, opened

    def _swap(self, ruleset: RuleSet, changes: Changes, opened: dict[str, Channel]) -> list[Channel]:
        """The new rules in force everywhere at once: nothing here awaits, so no snapshot or
        delivery sees part of each. Returns the channels taken out of service."""
        retired = [self.channels.pop(name) for name in changes.channels.to_close if name in self.channels]
        self.channels.update(opened)  # the worker's own dict: what it looks up from now on
        self.ruleset = self.pipeline.ruleset = ruleset
        if self.worker:
            self.worker.configure(ruleset.delivery, _rate_limits(ruleset))
        if self.scheduler:
            self.scheduler.use(ruleset)
        return retired

    async def _open_pollers(self, names: Iterable[str]) -> None:
        """Open the pollers of these sources; when this process polls, each runs while this
        process leads its source (at once when it is alone)."""
        for name in sorted(names):
            config = self.ruleset.sources[name]
            if (kind := _polled_kind(config)) is None:
                continue
            # the replica in the user agent: a platform's request log shows who polled
            agent = f"run-relay ({self.settings.owner})"
            client = httpx.AsyncClient(timeout=30.0, headers={"user-agent": agent})
            parts = (config, client, self.store, self.pipeline.ingest_many, self.clock, self.sources)
            self._polling[name] = _Polling(kind.open_poller(*parts), client)
            if self.settings.pollers and self.leadership:
                await self.leadership.want(poll_lease(name), partial(self._lead, name))

    async def _lead(self, name: str, leading: bool) -> None:
        """This process became (or stopped being) the one that polls `name`."""
        running = self._polling.get(name)
        if running is None:
            return
        if leading and running.task is None:
            running.stop = asyncio.Event()
            running.task = asyncio.create_task(running.poller.run(running.stop), name=f"poll-{name}")
        elif not leading:
            await _halt(running)

    async def _stop_pollers(self, names: Iterable[str]) -> None:
        """Each ends its wait or abandons its cycle at once (what it ingested stays)."""
        stopping = [name for name in names if name in self._polling]
        if self.leadership:
            for name in stopping:
                await self.leadership.drop(poll_lease(name))
        for name in stopping:
            running = self._polling.pop(name)
            await _halt(running)
            await running.client.aclose()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]  # reloads come and go
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _refresh_silences(self) -> None:
        """Silences can change from another process (the CLI, another replica): re-read them."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SILENCE_REFRESH)
            with contextlib.suppress(Exception):
                self.pipeline.silences = await self.store.silences(self.clock.now())

    async def add_silence(self, silence: Silence) -> None:
        await self.store.add_silence(silence)
        self.pipeline.silences = await self.store.silences(self.clock.now())
        log.info(
            "silence_added id=%s matchers=%s until=%s", silence.id, dict(silence.matchers), silence.ends_at
        )

    async def expire_silence(self, silence_id: str) -> bool:
        expired = await self.store.expire_silence(silence_id, self.clock.now())
        self.pipeline.silences = await self.store.silences(self.clock.now())
        if expired:
            log.info("silence_expired id=%s", silence_id)
        return expired

    async def replay(self, delivery_id: str) -> bool:
        replayed = await self.store.replay(delivery_id, self.clock.now())
        if replayed:
            log.info("delivery_replayed id=%s", delivery_id)
            self.pipeline.wakeup.set()
        return replayed

    def source_status(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            name: {"kind": c.kind, "enabled": c.enabled, "polling": self._polls_here(name)}
            | self.sources.health.of(name).as_json(now)
            for name, c in self.ruleset.sources.items()
        }

    def _polls_here(self, name: str) -> bool:
        running = self._polling.get(name)
        return running is not None and running.task is not None and not running.task.done()

    async def leaders(self) -> dict[str, str]:
        """Source -> the replica that polls it now (its lease in the store)."""
        leases = await self.store.leases(self.clock.now())
        return {
            name: owner
            for name in self.ruleset.sources
            if (held := leases.get(poll_lease(name))) and (owner := held[0])
        }

    async def stop(self) -> None:
        async with self._reloading:  # a reload under way finishes first
            self._stop.set()
            pollers = self._stop_pollers(list(self._polling))
            await asyncio.gather(pollers, *self._tasks, return_exceptions=True)
            await _close(self.channels.values())
            await self.store.close()
        log.info("relay_stopped")


async def _halt(running: _Polling) -> None:
    running.stop.set()
    if running.task is not None:
        await asyncio.gather(running.task, return_exceptions=True)
        running.task = None


async def _nothing(leading: bool) -> None:
    """The scheduler asks `leads` at each pass: nothing to start or stop."""


def run_links(settings: Settings) -> RunLinks | None:
    """The console links messages carry: only with RELAY_PUBLIC_URL (and a key to sign them)."""
    key = derive_key(settings.link_secret, settings.admin_token)
    return RunLinks(settings.public_url, key) if settings.public_url and key else None


def _open_channels(ruleset: RuleSet, names: Iterable[str]) -> tuple[dict[str, Channel], list[ConfigError]]:
    """The channels that opened, and why the others did not (a URL apprise does not know)."""
    opened: dict[str, Channel] = {}
    problems: list[ConfigError] = []
    for name in sorted(names):
        config = ruleset.channels[name]
        if not config.enabled:
            log.warning(
                "channel_disabled channel=%s reason=no URL configured (rules that name it skip it)", name
            )
            continue
        try:
            opened[name] = open_channel(config, ruleset.delivery.timeout)
        except ValueError as exc:
            problems.append(ConfigError(f"channel {name!r}: {exc}", ruleset.path, config.line))
    return opened, problems


def _rate_limits(ruleset: RuleSet) -> dict[str, tuple[int, float]]:
    return {name: c.rate_limit for name, c in ruleset.channels.items() if c.rate_limit}


def _polled_kind(config: SourceConfig) -> SourceKind | None:
    """The source's kind when it is to be polled; otherwise None, and the log says why."""
    kind = kind_of(config.kind)
    if not config.enabled:
        log.warning("source_disabled source=%s reason=enabled: false", config.name)
    elif kind.make_poller is None:
        log.info("source_push_only source=%s kind=%s", config.name, config.kind)
    elif not kind.polls(config):
        log.warning(
            "source_polling_disabled source=%s reason=no api_key set;"
            " webhook ingest at /hooks/%s still works",
            config.name,
            config.name,
        )
    else:
        return kind
    return None


async def _close_after(channels: list[Channel], sending: set[asyncio.Task[None]]) -> None:
    """Channels taken out of service close once the sends that began on them have ended."""
    if sending:
        await asyncio.wait(sending)
    await _close(channels)


async def _close(channels: Iterable[Channel]) -> None:
    for channel in list(channels):
        try:
            await channel.close()
        except Exception:  # one channel's failure to close must not keep the others open
            log.exception("channel_close_failed channel=%s", channel.name)
