"""The Starlette application: routes plus a lifespan that runs the Relay."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from starlette.applications import Starlette

from relay.clock import Clock
from relay.console import ROUTES as CONSOLE
from relay.console.throttle import SigninThrottle
from relay.service import Relay
from relay.settings import Settings
from relay.web.routes import ROUTES

log = logging.getLogger("relay")


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        relay = await Relay.start(settings, clock)
        app.state.relay = relay
        # what start-up built (modules, rules, channels: ~60,000 objects) lives as long as the
        # process: frozen, the collector stops re-scanning it, and a full collection under
        # load pauses the loop ~1 ms instead of ~35 ms (docs/benchmarks.md). Start-up's garbage
        # is collected first, or frozen it would stay for good
        gc.collect()
        gc.freeze()
        try:
            with _reload_on_hangup(relay):
                yield
        finally:
            await relay.stop()

    app = Starlette(routes=[*ROUTES, *CONSOLE], lifespan=lifespan)
    app.state.signin_throttle = SigninThrottle()  # this process's count of wrong sign-in tokens
    return app


@contextmanager
def _reload_on_hangup(relay: Relay) -> Iterator[None]:
    """SIGHUP re-reads rules.yaml. uvicorn handles SIGINT and SIGTERM only: without this a
    SIGHUP ends the process. Signals reach the main thread only; an app served from another
    thread still reloads through POST /admin/reload."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, relay.reload_soon)
        installed = True
    except (RuntimeError, ValueError) as exc:
        log.warning("sighup_reload_unavailable reason=%s", exc)
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGHUP)
