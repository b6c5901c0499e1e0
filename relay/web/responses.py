from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)
