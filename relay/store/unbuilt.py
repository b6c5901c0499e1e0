"""TEMPORARY (issue 11 in progress): the Store methods a backend does not have yet, so that
the backends type-check while they are built. Each part deletes what it implements; the
last merge deletes this file."""

from __future__ import annotations

from datetime import datetime

from relay.models import Backlog, Retention


class Unbuilt:
    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        raise NotImplementedError

    async def backlog(self) -> list[Backlog]:
        raise NotImplementedError
