"""The one place outbound HTTP is set up, so the transport stays a single, swappable choice.

One client per channel (one destination host each), with a small pool: a shared client with
many connections in flight slows down badly here (DESIGN.md, "Delivery").
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC

import httpx2 as httpx

from relay.channels.base import Response, excerpt
from relay.secrets import redact

MAX_CONNECTIONS = 10


def new_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS),
        follow_redirects=False,
        headers={"user-agent": "run-relay"},
    )


async def post(client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str]) -> Response:
    try:
        answer = await client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        return Response(ok=False, error=type(exc).__name__, excerpt=redact(excerpt(str(exc))))
    return Response(
        ok=answer.is_success,
        http_status=answer.status_code,
        excerpt=redact(excerpt(answer.text)) if answer.text else None,
        retry_after=retry_after(answer.headers.get("retry-after")),
    )


def retry_after(value: str | None) -> float | None:
    """Retry-After is delay-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
