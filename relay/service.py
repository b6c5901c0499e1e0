"""The running relay assembled in one place: store, pipeline, channels, worker, pollers.

`Relay.start` brings the parts up in order, `Relay.stop` takes them down in reverse:
pollers stop, then the worker finishes or releases what it claimed, then the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from relay.channels.base import Channel
from relay.channels.registry import open_channel
from relay.clock import Clock, SystemClock
from relay.delivery.worker import DeliveryWorker
from relay.pipeline import Pipeline
from relay.rules.config import RuleSet, load_ruleset
from relay.scheduler import Scheduler
from relay.settings import Settings
from relay.silences import Silence
from relay.sources import health
from relay.sources.base import Poller
from relay.sources.registry import kind_of
from relay.store import Store, open_store

log = logging.getLogger("relay")

SILENCE_REFRESH = 5.0  # seconds


@dataclass
class Relay:
    settings: Settings
    ruleset: RuleSet
    store: Store
    pipeline: Pipeline
    clock: Clock
    channels: dict[str, Channel] = field(default_factory=dict)
    pollers: dict[str, Poller] = field(default_factory=dict)
    _http: list[httpx.AsyncClient] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None) -> Relay:
        ruleset = load_ruleset(settings.config_path)
        store = await open_store(settings.database_url)
        clock = clock or SystemClock()
        relay = cls(settings, ruleset, store, Pipeline(store, ruleset, clock, asyncio.Event()), clock)
        relay._open_channels()
        relay._open_pollers()
        relay.pipeline.silences = await store.silences(clock.now())
        relay._spawn(relay._refresh_silences(), "silences")
        if settings.workers:
            limits = {name: c.rate_limit for name, c in ruleset.channels.items() if c.rate_limit}
            worker = DeliveryWorker(
                store, relay.channels, ruleset.delivery, clock, relay.pipeline.wakeup, limits
            )
            relay.pipeline.handoff = worker
            relay._tasks.append(asyncio.create_task(worker.run(relay._stop), name="worker"))
        if settings.pollers:
            for name, poller in relay.pollers.items():
                relay._tasks.append(asyncio.create_task(poller.run(relay._stop), name=f"poll-{name}"))
        if settings.scheduler:
            scheduler = Scheduler(
                store, ruleset, clock, relay.pipeline.wakeup, template_errors=relay.pipeline.template_errors
            )
            relay._spawn(scheduler.run(relay._stop, settings.scheduler_every), "scheduler")
        log.info(
            "relay_started config=%s database=%s sources=%d channels=%d rules=%d",
            settings.config_path,
            settings.database_url.split("?")[0],
            len(ruleset.sources),
            len(relay.channels),
            len(ruleset.rules),
        )
        return relay

    def _open_channels(self) -> None:
        for name, config in self.ruleset.channels.items():
            if not config.enabled:
                log.warning(
                    "channel_disabled channel=%s reason=no URL configured (rules that name it skip it)", name
                )
                continue
            try:
                self.channels[name] = open_channel(config, self.ruleset.delivery.timeout)
            except ValueError as exc:
                log.error("channel_disabled channel=%s reason=%s", name, exc)

    def _open_pollers(self) -> None:
        for name, config in self.ruleset.sources.items():
            kind = kind_of(config.kind)
            if not config.enabled:
                log.warning("source_disabled source=%s reason=enabled: false", name)
            elif kind.open_poller is None:
                log.info("source_push_only source=%s kind=%s", name, config.kind)
            elif not kind.polls(config):
                log.warning(
                    "source_polling_disabled source=%s reason=no api_key set;"
                    " webhook ingest at /hooks/%s still works",
                    name,
                    name,
                )
            else:
                client = httpx.AsyncClient(timeout=30.0, headers={"user-agent": "run-relay"})
                self._http.append(client)
                self.pollers[name] = kind.open_poller(
                    config, client, self.store, self.pipeline.ingest, self.clock
                )

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
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
            name: {"kind": c.kind, "enabled": c.enabled, "polling": name in self.pollers}
            | health.health(name).as_json(now)
            for name, c in self.ruleset.sources.items()
        }

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self.channels.values():
            await channel.close()
        for client in self._http:
            await client.aclose()
        await self.store.close()
        log.info("relay_stopped")
