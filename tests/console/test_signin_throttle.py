"""Guessing the admin token at the sign-in form, over real HTTP, on the relay's clock: five
wrong tokens a minute from one address, then that address is refused (429, Retry-After) even
with the right token, while another address signs in; a minute later it may try again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from relay.clock import FakeClock
from relay.console.throttle import LIMIT, WINDOW, SigninThrottle
from tests.acceptance.harness import ADMIN_TOKEN
from tests.console.world import console_world, csrf_of

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


async def _try(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    form = await client.get(f"{url}/console/signin")
    data = {"csrf": csrf_of(form.text), "token": token, "next": "/console/runs"}
    return await client.post(f"{url}/console/signin", data=data)


async def test_repeated_wrong_tokens_are_refused_until_the_window_passes(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with console_world(tmp_path, clock=clock) as world, httpx.AsyncClient(timeout=10) as guesser:
        for n in range(LIMIT):
            clock.advance(1)
            answer = await _try(guesser, world.url, f"guess-{n}")
            assert answer.status_code == 401, n

        for token in ("guess-6", ADMIN_TOKEN):  # refused before the token is even compared
            answer = await _try(guesser, world.url, token)
            assert answer.status_code == 429
            assert answer.headers["retry-after"] == str(int(WINDOW) - LIMIT + 1)
            assert "Too many wrong tokens" in answer.text
            assert "relay_console=" not in answer.headers.get("set-cookie", "")

        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")  # another address
        async with httpx.AsyncClient(timeout=10, transport=other) as operator:
            answer = await _try(operator, world.url, ADMIN_TOKEN)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/runs"

        clock.advance(WINDOW)
        answer = await _try(guesser, world.url, ADMIN_TOKEN)
        assert answer.status_code == 303  # the window passed: the right token works again


def test_the_count_is_per_client_bounded_and_cleared_by_a_correct_sign_in() -> None:
    throttle = SigninThrottle(limit=2, window=60, max_clients=3)
    throttle.failed("a", T0)
    assert throttle.retry_after("a", T0) is None
    throttle.failed("a", T0)
    assert throttle.retry_after("a", T0) == 60
    throttle.succeeded("a")
    assert throttle.retry_after("a", T0) is None
    for client in ("b", "c", "d", "e"):
        throttle.failed(client, T0)
        throttle.failed(client, T0)
    assert throttle.retry_after("b", T0) is None  # forgotten: only 3 addresses are remembered
    assert throttle.retry_after("e", T0) == 60
