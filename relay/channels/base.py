"""What every channel implements, and what it reports back.

A channel never raises for an expected failure: it answers a `Response`, and
relay.delivery.retry alone decides whether that is worth another try.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from relay.models import Delivery
from relay.secrets import redact

EXCERPT_LIMIT = 300


@dataclass(frozen=True)
class Response:
    ok: bool
    http_status: int | None = None
    excerpt: str | None = None
    retry_after: float | None = None
    error: str | None = None  # a transport failure (exception class), or a library's word


class Channel(Protocol):
    name: str

    async def send(self, delivery: Delivery) -> Response: ...

    async def close(self) -> None: ...


def excerpt(text: str) -> str:
    """A receiver's words, one line, secrets masked before cutting (no prefix of one survives)."""
    text = redact(" ".join(text.split()))
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"
