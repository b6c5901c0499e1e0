"""Reading a request's body from an untrusted client: bounded in size and in time."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from relay.errors import IngestError


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, or IngestError: 413 past `limit` bytes, 408 when it takes longer than
    `timeout` seconds (a client trickling bytes holds a connection and a task meanwhile)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise IngestError(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            await _collect(request, limit, chunks)
    except TimeoutError:
        raise IngestError(408, f"body not received within {timeout:g}s") from None
    except ClientDisconnect:
        raise IngestError(400, "the client disconnected before sending the whole body") from None
    return b"".join(chunks)


async def _collect(request: Request, limit: int, chunks: list[bytes]) -> None:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
