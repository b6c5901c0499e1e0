"""Outbound HTTP transports, measured: one process posting small JSON to the loopback sink.

    python -m bench.transport URL COUNT CONCURRENCY KIND

KIND: httpx2 (its default transport), httpx2-aiohttp (the httpx2 API over the httpx-aiohttp
transport), aiohttp (aiohttp's ClientSession directly), relay (relay.channels.http as it is
now). Prints one JSON line: {"kind", "concurrency", "per_s", "p50_ms", "p99_ms"}. Each kind
runs in a fresh process, so one's pools and imports never help another.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

BODY = json.dumps({"type": "run.transition", "run": {"id": "brun-t0-1", "x": "y" * 900}}).encode()
HEADERS = {"content-type": "application/json"}

Post = Callable[[str], Awaitable[int]]


async def measure(url: str, count: int, concurrency: int, kind: str) -> dict[str, object]:
    post, close = await _client(kind, concurrency)
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            t0 = time.perf_counter()
            status = await post(url)
            if status != 200:
                raise RuntimeError(f"sink answered {status}")
            latencies.append(time.perf_counter() - t0)

    for _ in range(min(20, count)):  # warm up: connections open, code paths imported
        await post(url)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    await close()
    latencies.sort()
    return {
        "kind": kind,
        "concurrency": concurrency,
        "per_s": count / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def _client(kind: str, concurrency: int) -> tuple[Post, Callable[[], Awaitable[None]]]:
    if kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def post_aiohttp(url: str) -> int:
            async with session.post(url, data=BODY, headers=HEADERS) as r:
                await r.read()
                return r.status

        return post_aiohttp, session.close
    if kind == "relay":
        from relay.channels.http import new_client, post

        relay_client = new_client(10.0)

        async def post_relay(url: str) -> int:
            return (await post(relay_client, url, BODY, HEADERS)).http_status or 0

        return post_relay, relay_client.aclose
    import httpx2

    limits = httpx2.Limits(max_connections=concurrency)
    if kind == "httpx2-aiohttp":
        from httpx_aiohttp.httpx2 import AiohttpTransport

        client = httpx2.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=10)
    else:
        client = httpx2.AsyncClient(limits=limits, timeout=10)

    async def post_httpx(url: str) -> int:
        return (await client.post(url, content=BODY, headers=HEADERS)).status_code

    return post_httpx, client.aclose


def main() -> None:
    url, count, concurrency, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(measure(url, count, concurrency, kind))))


if __name__ == "__main__":
    main()
