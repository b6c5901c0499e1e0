"""TEMPORARY (issue 11 in progress): the Store methods a backend does not have yet, so that
the backends type-check while they are built. Each part deletes what it implements; the
last merge deletes this file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


class Unbuilt:
    async def expire_claims(self, owner: str, now: datetime) -> int:
        raise NotImplementedError

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        raise NotImplementedError

    async def let_go(self, name: str, owner: str) -> None:
        raise NotImplementedError

    async def leases(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        raise NotImplementedError

    async def admit(self, channel: str, now: datetime, count: int, period: float) -> datetime | None:
        raise NotImplementedError

    async def first_sight(self, source: str, key: str, now: datetime) -> bool:
        raise NotImplementedError

    async def budget(self, key: str) -> tuple[int | None, int | None, float | None]:
        raise NotImplementedError

    async def save_budget(
        self, key: str, limit: int | None, remaining: int | None, reset_at: float | None
    ) -> None:
        raise NotImplementedError

    async def on_due(self, wake: Callable[[], None]) -> None:
        raise NotImplementedError
