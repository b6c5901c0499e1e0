"""A child of `relay serve --workers N` serves on the supervisor's socket, passed by number:
the connections it accepts must get TCP_NODELAY, as with a socket it bound itself (without it
every keep-alive answer waits for the client's delayed ACK)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvloop

from relay.supervisor import inherited_socket


def _listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as the supervisor's _bind does
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


async def _accepted_nodelay(sock: socket.socket) -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted = writer.get_extra_info("socket")
        seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_client, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname())
        result = await seen
        writer.close()
    return result


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_connections_accepted_on_an_inherited_socket_have_tcp_nodelay(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    original = _listening()
    sock = inherited_socket(original.detach())
    assert (sock.family, sock.type, sock.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(_accepted_nodelay(sock)) != 0
