"""The fake platform for the polling workload: tests/fakes/recoup_api.py with RUNS runs.

    python -m bench.platform --port 9002 --runs 10000 --api-key KEY

Recoup's list shows the newest `limit` (at most 100) runs that have started, with no cursor.
The window starts with RUNS runs, all finished but the newest 0.5%, which are executing.
POST /_bench/advance moves the world one cycle on, changing 1% of RUNS: the executing runs
complete (with output) and as many new runs start (a run lives one poll cycle), the oldest
finished ones leaving the window so it stays at RUNS: 0.5% first seen and 0.5% turning
terminal per cycle, all of them within the newest 100. GET /_bench/stats counts requests.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.recoup_api import FakeRecoupApi

OUTPUT = {"videoSourceUrl": "https://v3.fal.media/files/bench/final.mp4", "captionText": "bench"}


class World:
    def __init__(self, runs: int) -> None:
        self.api = FakeRecoupApi(api_key="bench_key")
        self.change = max(2, runs // 100)
        self.active: deque[str] = deque()
        self.finished: deque[str] = deque()
        self.serial = 0
        start = datetime.now(UTC) - timedelta(days=1)
        for n in range(runs):
            run_id = self._next_id()
            created = start + timedelta(seconds=n)
            if n < runs - self.change // 2:
                self.api.put_run(run_id, status="COMPLETED", created_at=created, output=OUTPUT)
                self.finished.append(run_id)
            else:
                self.api.put_run(run_id, status="EXECUTING", created_at=created)
                self.active.append(run_id)

    def _next_id(self) -> str:
        self.serial += 1
        return f"brun-p-{self.serial}"

    def advance(self) -> dict[str, int]:
        half = self.change // 2
        for _ in range(min(half, len(self.active))):
            run_id = self.active.popleft()
            self.api.set_status(run_id, "COMPLETED", output=OUTPUT)
            self.finished.append(run_id)
        for _ in range(half):
            run_id = self._next_id()
            self.api.put_run(run_id, status="EXECUTING")
            self.active.append(run_id)
            self.api.runs[self.finished.popleft()].hidden = True  # out of the window
        return {"completed": half, "started": half}

    def stats(self) -> dict[str, int]:
        return {
            "list": len(self.api.list_requests()),
            "by_id": len(self.api.by_id_requests()),
            "window": sum(1 for r in self.api.runs.values() if not r.hidden),
        }


async def serve(port: int, runs: int) -> None:
    world = World(runs)

    async def advance(request: Request) -> Response:
        return JSONResponse(world.advance())

    async def stats(request: Request) -> Response:
        return JSONResponse(world.stats())

    world.api.app.router.routes += [
        Route("/_bench/advance", advance, methods=["POST"]),
        Route("/_bench/stats", stats, methods=["GET"]),
    ]
    config = uvicorn.Config(world.api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    await uvicorn.Server(config).serve()  # stops on SIGTERM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.runs))


if __name__ == "__main__":
    main()
