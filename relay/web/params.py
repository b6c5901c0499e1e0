"""A request's path and query parameters as the store can look them up.

A NUL character can be sent %-encoded (`/admin/deliveries/%00`) but is in no stored key: the
JSON bodies that bring runs in refuse it (relay/jsonin.py), and PostgreSQL cannot even take it
as a query parameter (its text holds no NUL: the driver raises, a 500). Refused at the door,
the answer is the same on every backend: no such thing (404) for a path, a 4xx for a query.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request


def nul_in(request: Request) -> Literal["path", "query"] | None:
    """Where the request's parameters hold a NUL character, if anywhere."""
    if any("\x00" in str(value) for value in request.path_params.values()):
        return "path"
    if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
        return "query"
    return None
