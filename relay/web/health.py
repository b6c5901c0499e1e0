from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.observability import show_backlog
from relay.secrets import redact
from relay.service import Relay

log = logging.getLogger("relay.web")

# answered within this, so a load balancer's probe sees 503 rather than its own timeout
READY_TIMEOUT = 2.0  # seconds


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Readiness is /readyz."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    if problem := await _store_problem(relay):
        return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready", "sources": _public(relay.source_status())})


# /readyz answers anyone: no error text, which may name hosts and URLs (the admin API has it)
PUBLIC_SOURCE_FIELDS = ("kind", "enabled", "polling", "consecutive_failures")


def _public(status: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: s[k] for k in PUBLIC_SOURCE_FIELDS} for name, s in status.items()}


async def _store_problem(relay: Relay) -> str | None:
    """Why the store cannot read and take a write within READY_TIMEOUT, or None."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await relay.store.next_due()
            await relay.store.heartbeat(relay.clock.now())
    except TimeoutError:
        return f"store: no write within {READY_TIMEOUT:g}s (its lock held elsewhere, or the disk stalls)"
    except Exception as exc:  # any store failure means: do not send traffic here
        return f"store: {type(exc).__name__}: {redact(str(exc))}"
    return None


async def metrics(request: Request) -> Response:
    await _refresh_backlog(request.app.state.relay)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _refresh_backlog(relay: Relay) -> None:
    """The backlog gauges read from the store at each scrape; a store that does not answer in
    time leaves the last values (the scrape still answers, with every other metric)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            backlog = await relay.store.backlog()
    except Exception as exc:  # the metrics page must not fail with the store
        log.warning("backlog_unavailable error=%s: %s", type(exc).__name__, exc)
        return
    show_backlog(backlog, relay.ruleset.channels, relay.clock.now())
