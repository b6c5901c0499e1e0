from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# answered before the body was read to its end: the connection cannot carry another request
# (what follows is the rest of that body), and a slow client must not keep it
CLOSE_AFTER = {408, 413}


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"connection": "close"} if status in CLOSE_AFTER else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)
