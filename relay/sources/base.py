"""What every source kind provides, and the report a poll cycle returns.

A kind is data plus three functions: how to authenticate a pushed request, how to turn a
pushed body into snapshots, and (when the platform can be polled) how to open a poller.
Nothing downstream of `Pipeline.ingest` knows which kind or path brought a snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx2

from relay.clock import Clock
from relay.config import SourceConfig
from relay.models import Snapshot
from relay.signing import verify
from relay.sources.state import SourceState
from relay.store.base import Store

# a batch of snapshots into the pipeline, in one transaction (Pipeline.ingest_many)
Ingest = Callable[[Sequence[Snapshot]], Awaitable[object]]


@dataclass
class PollReport:
    listed: int = 0  # items in list responses, valid or not
    fetched_by_id: int = 0  # listed runs that became terminal, completed by a by-id fetch
    rechecked: int = 0  # active runs outside the listed window, fetched by id
    invalid: int = 0  # items that were not usable run objects (logged, skipped)
    ingested: int = 0  # snapshots handed to ingest
    requests: int = 0  # HTTP requests made to the platform this cycle

    def summary(self) -> str:
        return (
            f"listed {self.listed}, fetched by id {self.fetched_by_id}, re-checked {self.rechecked},"
            f" invalid {self.invalid}, ingested {self.ingested}"
        )


class Poller(Protocol):
    async def poll_once(self) -> PollReport: ...

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class PollerParts:
    """What a kind's poller is made of: the source, the relay's parts, its SourceState."""

    config: SourceConfig
    http: httpx2.AsyncClient
    store: Store
    ingest: Ingest
    clock: Clock
    state: SourceState


class ParseWebhook(Protocol):
    """A pushed body -> snapshots; raises SourceError."""

    def __call__(self, body: object, config: SourceConfig) -> list[Snapshot]: ...


def no_push_key(body: object, snapshots: list[Snapshot]) -> str | None:
    return None


def standard_webhooks(config: SourceConfig, headers: Mapping[str, str], body: bytes) -> None:
    """The default: a Standard Webhooks signature made with any of the source's secrets.
    Raises relay.signing.SignatureError."""
    verify(config.webhook_secrets, dict(headers), body, now=time.time())


def no_options(config: SourceConfig) -> None:
    return None


@dataclass(frozen=True)
class SourceKind:
    name: str
    parse_webhook: ParseWebhook
    authenticate: Callable[[SourceConfig, Mapping[str, str], bytes], None] = standard_webhooks
    make_poller: Callable[[PollerParts], Poller] | None = None
    # validates the kind-specific options when rules.yaml loads: raises ValueError
    check_options: Callable[[SourceConfig], None] = no_options
    # True: webhook_secret is a Standard Webhooks secret, checked when rules.yaml loads
    secret_is_key: bool = True
    # False: the platform may run without auth, so a source polls with no api_key too
    needs_credentials: bool = True
    # the status names its snapshots carry: a rule's `status:` must be one of some kind's
    statuses: frozenset[str] = frozenset()
    # what a platform's retry of a push repeats (its delivery id), remembered in the store
    # (Store.first_sight) so that a replay is answered as one, on every replica
    push_key: Callable[[object, list[Snapshot]], str | None] = no_push_key

    def open_poller(
        self,
        config: SourceConfig,
        http: httpx2.AsyncClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        state: SourceState | None = None,
    ) -> Poller:
        """The source's poller (raises ConfigError for invalid options, ValueError for a kind
        that is pushed only). Without a `state`, one of its own."""
        if self.make_poller is None:
            raise ValueError(f"{self.name} sources are pushed, not polled")
        return self.make_poller(PollerParts(config, http, store, ingest, clock, state or SourceState()))

    def polls(self, config: SourceConfig) -> bool:
        return (
            self.make_poller is not None
            and config.enabled
            and (bool(config.api_key) or not self.needs_credentials)
        )
