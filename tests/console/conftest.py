"""Fixtures of the console tests: the world (relay + recording sink) and a real browser.

The browser is Debian's chromium driven by Playwright through `executable_path`: Playwright's
own browser downloads cannot be reached from here. Without chromium the browser tests fail
(never skip) and say how to install it; .ci/run installs it when it is missing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.console.world import World, console_world
from tests.integration.pg import pg_schema

CHROMIUM = os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium")
INSTALL = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The console over each backend: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "postgres":
        async with pg_schema("c") as url, console_world(tmp_path, url) as w:
            yield w
        return
    async with console_world(tmp_path) as w:
        yield w


def chromium() -> str:
    """Debian's chromium, or the test fails saying how to install it."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"the console's browser tests need Debian's chromium at {CHROMIUM} (or set RELAY_CHROMIUM): "
            f"install it with `{INSTALL}` (.ci/run does this when it is missing)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    # as root (CI, containers) chromium runs only without its sandbox
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield launched
        finally:
            await launched.close()
