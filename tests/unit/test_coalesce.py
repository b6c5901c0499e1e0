"""Calls that arrive together become one batch; a failing batch fails only its culprit."""

from __future__ import annotations

import asyncio

import pytest

from relay.coalesce import MAX_ITEMS, Coalescer


class Recorder:
    """`run` for a Coalescer: notes each batch, answers item * 10, raises on a negative item;
    a batch waits for `gate` (a commit under way) so later calls pile up meanwhile."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.running = 0
        self.most_at_once = 0

    async def run(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            if any(i < 0 for i in items):
                raise ValueError(f"bad item in {items}")
            return [i * 10 for i in items]
        finally:
            self.running -= 1


async def test_calls_made_while_a_batch_is_written_go_together_into_the_next() -> None:
    r = Recorder()
    c = Coalescer(r.run)
    r.gate.clear()
    first = asyncio.create_task(c([1]))
    await asyncio.sleep(0)  # the first batch is under way, waiting for its "commit"
    later = [asyncio.create_task(c(items)) for items in ([2], [3, 4], [5])]
    await asyncio.sleep(0)
    r.gate.set()
    assert await first == [10]
    assert [await t for t in later] == [[20], [30, 40], [50]]
    assert r.batches == [[1], [2, 3, 4, 5]]  # in the order the calls were made


async def test_a_failing_batch_is_tried_call_by_call_and_fails_only_its_culprit() -> None:
    r = Recorder()
    c = Coalescer(r.run)
    r.gate.clear()
    first = asyncio.create_task(c([1]))
    await asyncio.sleep(0)
    good, bad, other = (asyncio.create_task(c(items)) for items in ([2], [-3], [4, 5]))
    await asyncio.sleep(0)
    r.gate.set()
    assert await first == [10]
    assert await good == [20]
    with pytest.raises(ValueError, match=r"bad item in \[-3\]"):
        await bad
    assert await other == [40, 50]
    assert r.batches == [[1], [2, -3, 4, 5], [2], [-3], [4, 5]]


async def test_a_call_alone_that_fails_is_not_tried_again() -> None:
    r = Recorder()
    with pytest.raises(ValueError, match="bad item"):
        await Coalescer(r.run)([-1, 2])
    assert r.batches == [[-1, 2]]


async def test_no_more_batches_at_once_than_allowed() -> None:
    r = Recorder()
    c = Coalescer(r.run, parallel=2)
    r.gate.clear()

    async def settle() -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    calls = [asyncio.create_task(c([0]))]
    await settle()  # one batch under way
    calls += [asyncio.create_task(c([n])) for n in (1, 2)]
    await settle()  # a second one beside it
    calls += [asyncio.create_task(c([n])) for n in (3, 4)]
    await settle()  # these wait: two batches are written already
    assert r.batches == [[0], [1, 2]]
    r.gate.set()
    assert [await t for t in calls] == [[n * 10] for n in range(5)]
    assert r.batches == [[0], [1, 2], [3, 4]]
    assert r.most_at_once == 2


async def test_a_batch_holds_at_most_max_items_but_a_bigger_call_whole() -> None:
    r = Recorder()
    c = Coalescer(r.run)
    r.gate.clear()
    first = asyncio.create_task(c([0]))
    await asyncio.sleep(0)
    big = list(range(1, MAX_ITEMS + 2))  # one call larger than a batch goes as it is
    rest = [asyncio.create_task(c(items)) for items in ([-5], big, [7])]
    await asyncio.sleep(0)
    r.gate.set()
    await first
    await asyncio.gather(*rest, return_exceptions=True)
    assert [len(b) for b in r.batches[1:3]] == [1, MAX_ITEMS + 1]  # [-5] alone: big did not fit


async def test_cancelled_while_trying_call_by_call_leaves_no_caller_hanging() -> None:
    async def run(items: list[int]) -> list[int]:
        if len(items) > 1:
            raise ValueError("the batch fails")
        if items == [2]:
            raise asyncio.CancelledError  # the store's writer went away meanwhile
        return items

    c = Coalescer(run)
    calls = [asyncio.create_task(c([n])) for n in (1, 2, 3)]
    done, pending = await asyncio.wait(calls, timeout=1)
    assert not pending
    assert calls[0].result() == [1]
    assert calls[1].cancelled() and calls[2].cancelled()
