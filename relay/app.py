"""The Starlette application: routes plus a lifespan that runs the Relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from relay.clock import Clock
from relay.service import Relay
from relay.settings import Settings
from relay.web.routes import ROUTES


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        relay = await Relay.start(settings, clock)
        app.state.relay = relay
        try:
            yield
        finally:
            await relay.stop()

    return Starlette(routes=ROUTES, lifespan=lifespan)
