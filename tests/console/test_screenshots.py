"""`make screenshots` (bench/screenshots.py) renders each main page of the console to a PNG."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from bench.screenshots import shoot

PNG = b"\x89PNG\r\n\x1a\n"


async def test_the_main_pages_render_to_png(browser: Browser, tmp_path: Path) -> None:
    written = await shoot(browser, tmp_path)

    names = ["overview.png", "runs.png", "run.png", "deliveries.png", "silences.png", "rules.png"]
    assert [p.name for p in written] == names
    for path in written:
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 10_000, path
