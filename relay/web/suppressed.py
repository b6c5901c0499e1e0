"""GET /admin/suppressed: per rule and channel, the messages held back or folded that the next
message will count (the counts the console's Rules page shows)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.render.payload import iso
from relay.render.suppressed import REASONS
from relay.service import Relay
from relay.store.suppression import SuppressedCount
from relay.web.admin import endpoint


def count_json(c: SuppressedCount) -> dict[str, Any]:
    return {
        "rule": c.rule,
        "channel": c.channel,
        "reason": c.reason,
        "label": REASONS.get(c.reason, c.reason),
        "count": c.count,
        "since": iso(c.since),
        "held": c.held,
    }


@endpoint()
async def suppressed(request: Request, relay: Relay) -> Response:
    found = await relay.store.suppressed_counts()
    return JSONResponse({"suppressed": [count_json(c) for c in found]})
