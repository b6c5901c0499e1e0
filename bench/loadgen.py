"""Load the bench drives with Python: signed request pools for wrk, and an open-loop generator.

wrk makes the closed-loop, as-fast-as-possible load (its Lua cannot compute an HMAC, so the
signed requests are computed here beforehand, see wrk/signed.lua). Steady-rate load for the
latency workloads comes from `open_loop`: request i is due at start + i/rate whatever
happened before (no coordinated omission: a late send counts from when it was due), over a
pool of keep-alive connections (aiohttp).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from relay.signing import sign

TICK = 0.001  # seconds between scheduling rounds


def run_body(run_id: str) -> bytes:
    return json.dumps(
        {
            "id": run_id,
            "taskIdentifier": "create-content",
            "status": "COMPLETED",
            "createdAt": "2026-11-25T09:00:00Z",
            "updatedAt": "2026-11-25T09:02:00Z",
            "startedAt": "2026-11-25T09:00:01Z",
            "finishedAt": "2026-11-25T09:02:00Z",
            "tags": ["account:bench"],
            "output": {
                "videoSourceUrl": "https://v3.fal.media/files/bench/final.mp4",
                "captionText": "bench",
            },
        },
        separators=(",", ":"),
    ).encode()


def alert_body(run_id: str) -> bytes:
    alert = {
        "labels": {
            "alertname": "RunFinished",
            "run": run_id,
            "task": "create-content",
            "status": "COMPLETED",
        },
        "annotations": {"video": "https://v3.fal.media/files/bench/final.mp4"},
    }
    return json.dumps([alert], separators=(",", ":")).encode()


def write_signed_pool(path: Path, count: int, secret: str, prefix: str) -> None:
    """`count` distinct runs, each signed now (5 minutes' tolerance at the relay)."""
    stamp = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            run_id = f"brun-{prefix}-{n}"
            body = run_body(run_id)
            msg_id = f"msg_{prefix}_{n}"
            out.write(f"{msg_id}\t{stamp}\t{sign(secret, msg_id, stamp, body)}\t{body.decode()}\n")


@dataclass
class Sent:
    run_id: str
    due: float  # time.monotonic() when the request was due
    acked: float  # when its answer arrived (0: never)
    status: int  # HTTP status (0: transport error)


async def open_loop(
    url: str,
    rate: float,
    duration: float,
    body: Callable[[str], bytes],
    prefix: str,
    *,
    connections: int = 64,
    secret: str | None = None,
) -> list[Sent]:
    """Send `rate` requests/s for `duration` s, each a distinct run; wait for every answer."""
    total = int(rate * duration)
    sent: list[Sent] = []
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: list[asyncio.Task[None]] = []

        async def one(n: int, due: float) -> None:
            run_id = f"brun-{prefix}-{n}"
            data = body(run_id)
            headers = {"content-type": "application/json"}
            if secret:
                stamp = int(time.time())
                msg_id = f"msg_{prefix}_{n}"
                headers |= {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(secret, msg_id, stamp, data),
                }
            record = Sent(run_id, due, 0.0, 0)
            sent.append(record)
            try:
                async with session.post(url, data=data, headers=headers) as answer:
                    await answer.read()
                    record.status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                record.status = 0
            record.acked = time.monotonic()

        start = time.monotonic() + 0.05
        issued = 0
        while issued < total:
            now = time.monotonic()
            due_now = min(total, int((now - start) * rate) + 1) if now >= start else 0
            while issued < due_now:
                tasks.append(asyncio.create_task(one(issued, start + issued / rate)))
                issued += 1
            await asyncio.sleep(TICK)
        await asyncio.gather(*tasks)
    return sent
