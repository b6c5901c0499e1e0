from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.service import Relay


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Readiness is /readyz."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    try:
        await relay.store.next_due()
    except Exception as exc:  # any store failure means: do not send traffic here
        return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ready", "sources": _public(relay.source_status())})


# /readyz answers anyone: no error text, which may name hosts and URLs (the admin API has it)
PUBLIC_SOURCE_FIELDS = ("kind", "enabled", "polling", "consecutive_failures")


def _public(status: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: s[k] for k in PUBLIC_SOURCE_FIELDS} for name, s in status.items()}


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
