"""Screenshots of the console's main pages for the README: `make screenshots` (or
`python -m bench.screenshots [OUT_DIR]`) writes docs/screenshots/*.png.

The same setup as the browser tests (tests/console/): a relay over loopback whose webhook
channel's receiver refuses at first, a few runs pushed to it, Debian's chromium driven by
Playwright (`apt-get install -y chromium` when /usr/bin/chromium is missing)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from relay.silences import new_silence
from tests.console.browser import sign_in
from tests.console.conftest import chromium
from tests.console.world import World, console_world

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1200, "height": 760}


async def demo(world: World) -> None:
    """A morning's worth of runs: two failures whose notification died, a success, a run still
    going, and a silence for a task under maintenance."""
    await world.failed_run(
        "run_7f3a", task="create-content", error={"message": "fal.ai: 429 Too Many Requests"}
    )
    await world.failed_run("run_7f3b", task="nightly-report", error={"message": "quota exceeded"})
    world.sink.always_fail = None
    await world.push("run_7f3c", task="create-content", status="COMPLETED", error=None)
    await world.push("run_7f3d", task="backup-db", status="EXECUTING", finishedAt=None, error=None)
    relay = world.relay.relay
    now = relay.clock.now()
    await relay.add_silence(
        new_silence({"task": "backup-*"}, now, now + timedelta(hours=2), "disk swap", "console")
    )


async def shoot(browser: Browser, out: Path) -> list[Path]:
    """Each main page to `out`/NAME.png (`out` exists)."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        async with console_world(Path(tmp)) as world:
            await demo(world)
            context = await browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-GB")
            page = await context.new_page()
            await sign_in(page, world.url)
            shots = {
                "overview": "/console",
                "runs": "/console/runs",
                "run": "/console/runs/recoup/run_7f3a",
                "deliveries": "/console/deliveries",
                "silences": "/console/silences",
                "rules": "/console/rules",
            }
            for name, path in shots.items():
                written.append(await _shot(page, world.url + path, out / f"{name}.png"))
            await context.close()
    return written


async def _shot(page: Page, url: str, target: Path) -> Path:
    await page.goto(url)
    await page.screenshot(path=str(target), full_page=True)
    return target


async def main(out: Path) -> None:
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium(), headless=True, args=args)
        try:
            for path in await shoot(browser, out):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        finally:
            await browser.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
