"""The chaos test, small (tests/chaos, `make chaos` for thousands of runs): three `relay serve`
replicas on one PostgreSQL schema, runs pushed to them and polled from a fake Recoup, replicas
killed with SIGKILL (the poll leader first) and restarted, and still every notification once."""

from __future__ import annotations

import asyncio

from tests.chaos.run import Options, run_chaos


async def test_replicas_killed_and_restarted_lose_and_repeat_nothing() -> None:
    options = Options(runs=200, seconds=10, kill_every=(2.5, 3.5), max_kills=3, settle=30, seed=11)
    async with asyncio.timeout(120):  # every wait inside is bounded; this is the last resort
        verdict = await run_chaos(options)
    assert verdict.kills >= 2 and verdict.leader_kills >= 1, verdict.summary()
    assert verdict.ok, verdict.summary()
