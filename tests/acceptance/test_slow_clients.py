"""Slow clients against `relay serve`: hundreds of connections trickling their heads or bodies
a byte at a time neither stop /healthz from answering nor stay open past the client timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx

from tests.acceptance.harness import relay_process

CONNECTIONS = 300  # half trickle a request's head, half a webhook body
TRICKLE_EVERY = 0.1  # seconds between two bytes
MAX_BYTES = 300  # a trickle the relay never cuts off ends here (30 s), and the test fails
HEAD = b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: "
BODY_HEAD = (
    b"POST /hooks/recoup HTTP/1.1\r\nHost: relay\r\ncontent-type: application/json\r\n"
    b"content-length: 1000\r\n\r\n{"
)


async def trickle(port: int, opening: bytes) -> bytes:
    """Sends `opening`, then a byte at a time until the relay ends the connection; returns
    what the relay answered (b"" when it just closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(opening)
        for _ in range(MAX_BYTES):
            await asyncio.sleep(TRICKLE_EVERY)
            if reader.at_eof() or writer.is_closing():
                break
            writer.write(b"a")
            try:
                await writer.drain()
            except ConnectionError:
                break
            answer = await _read_ready(reader)
            if answer is not None:
                return answer
        else:
            raise AssertionError(f"the relay kept a slow connection open: {opening[:30]!r}")
        return await _read_ready(reader) or b""
    finally:
        writer.close()


async def _read_ready(reader: asyncio.StreamReader) -> bytes | None:
    """What the relay has sent so far (b"" once it closed), None while it has sent nothing."""
    try:
        return await asyncio.wait_for(reader.read(4096), 0.001)
    except TimeoutError:
        return None
    except ConnectionError:
        return b""


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
