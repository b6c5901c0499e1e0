"""Slow clients against `relay serve`: hundreds of connections trickling their heads or bodies
a byte at a time neither stop /healthz from answering nor stay open past the client timeout."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx2 as httpx

from tests.acceptance.harness import relay_process

CONNECTIONS = 300  # half trickle a request's head, half a webhook body
TRICKLE_EVERY = 0.1  # seconds between two bytes
MAX_BYTES = 300  # a trickle the relay never cuts off ends here (30 s), and the test fails
# answered, the connection closes with the answer; uvicorn would close an idle one after 5 s
CLOSE_WITHIN = 3.0
HEAD = b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: "
BODY_HEAD = (
    b"POST /hooks/recoup HTTP/1.1\r\nHost: relay\r\ncontent-type: application/json\r\n"
    b"content-length: 1000\r\n\r\n{"
)


class _Recorder(asyncio.Protocol):
    """Keeps every byte the relay sent. A StreamReader would not do: once a byte written after
    the relay closed draws a reset, its read() raises and loses the 408 already received."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def trickle(port: int, opening: bytes) -> bytes:
    """Sends `opening`, then a byte at a time until the relay answers or ends the connection;
    returns what the relay answered (b"" when it just closed)."""
    loop = asyncio.get_running_loop()
    transport, relay = await loop.create_connection(_Recorder, "127.0.0.1", port)
    try:
        transport.write(opening)
        for _ in range(MAX_BYTES):
            await asyncio.sleep(TRICKLE_EVERY)
            if relay.received or relay.closed.is_set():
                break
            transport.write(b"a")
        else:
            raise AssertionError(f"the relay kept a slow connection open: {opening[:30]!r}")
        # the answer may come in pieces; a body it gave up on must not keep the connection
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(relay.closed.wait(), CLOSE_WITHIN)
        assert relay.closed.is_set(), f"the relay answered and kept the connection: {relay.received[:40]!r}"
        return bytes(relay.received)
    finally:
        transport.close()


async def test_slow_clients_are_cut_off_and_healthz_answers_meanwhile(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text("sources: {recoup: {kind: recoup}}\nchannels: {}\nrules: []\n")
    env = {"RELAY_CLIENT_TIMEOUT": "2s", "RELAY_MAX_CONNECTIONS": "1000"}
    with relay_process(config, tmp_path / "relay.db", env) as relay:
        port = int(relay.url.rsplit(":", 1)[1])
        openings = [HEAD if n % 2 else BODY_HEAD for n in range(CONNECTIONS)]
        slow = [asyncio.create_task(trickle(port, opening)) for opening in openings]
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                for _ in range(5):  # while the trickles go on
                    assert (await client.get(f"{relay.url}/healthz")).status_code == 200
                    await asyncio.sleep(0.2)
            answers = await asyncio.gather(*slow)
        finally:
            for task in slow:
                task.cancel()
            await asyncio.gather(*slow, return_exceptions=True)
        bodies = [a for a, o in zip(answers, openings, strict=True) if o is BODY_HEAD]
        assert all(b"408" in a and b"body not received within 2s" in a for a in bodies), bodies[:3]
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{relay.url}/healthz")).status_code == 200
