"""TCP_NODELAY on every accepted TCP connection, for servers started by `uvicorn --workers N`.

uvicorn's multi-process mode binds the listening socket itself with `socket.socket()`, whose
`proto` is 0, and asyncio sets TCP_NODELAY only when `proto == IPPROTO_TCP`: every response
then waits for the client's delayed ACK (~40 ms here), which caps any server at
connections / 40 ms (~350 requests/s with 16 connections). A single-process uvicorn binds
through getaddrinfo (proto 6) and is not affected. The bench applies this to its own
multi-process servers (the relay's and the baseline's alike); a `--workers` option for
`relay serve` would need the same.
"""

from __future__ import annotations

import asyncio.base_events
import socket


def _set_nodelay(sock: socket.socket) -> None:
    if sock.family in {socket.AF_INET, socket.AF_INET6} and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def patch() -> None:
    asyncio.base_events._set_nodelay = _set_nodelay  # type: ignore[attr-defined]
