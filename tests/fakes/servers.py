"""Serve any ASGI app over real loopback TCP, inside the running event loop (tests only).

    async with serve(app) as base_url:   # "http://127.0.0.1:<free port>"
        ...

The socket is bound before uvicorn gets it, so with port 0 no other process can take the
kernel's choice in between. The server always stops on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

STARTUP_TIMEOUT = 5.0


class _Server(uvicorn.Server):
    """uvicorn minus its signal handlers: a fake must not take SIGINT/SIGTERM away from pytest
    or from the relay under test."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp, *, port: int = 0, lifespan: Literal["off", "on", "auto"] = "off"
) -> AsyncIterator[str]:
    """`port` 0 lets the kernel choose; a fixed port lets a test stop a receiver and bring it
    back at the same address. `lifespan="on"` for apps that need their startup (the relay)."""
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then
    # (without it every answer here waits ~40 ms for a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        lifespan=lifespan,
        log_level="warning",
        http="h11",
        ws="none",
        interface="asgi3",  # every app here is ASGI 3; a bound method would pass for ASGI 2
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _until_started(server, task)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()  # uvicorn closes it on shutdown; this covers a failed start


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while not server.started:
            if task.done():  # failed to start: surface uvicorn's own error
                task.result()
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.005)
