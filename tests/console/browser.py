"""A browser page that records what must never happen on a console page: a console error, an
uncaught script error, a failed request, an answer of 400 or more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from playwright.async_api import Browser, ConsoleMessage, Error, Page, Request, Response, expect

from tests.acceptance.harness import ADMIN_TOKEN


@dataclass
class Watched:
    page: Page
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def page_error(self, error: Error) -> None:
        self.problems.append(f"script error on {self.page.url}: {error}")

    def request_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")

    def response(self, response: Response) -> None:
        self.visited.append(response.url)
        if response.status >= 400:
            self.problems.append(f"answer {response.status}: {response.request.method} {response.url}")


@asynccontextmanager
async def watched_page(browser: Browser) -> AsyncIterator[Watched]:
    """A page in a fresh context (Europe/Berlin: times shown there, UTC on hover). The test
    ends with no problem recorded on any page it visited."""
    context = await browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    page = await context.new_page()
    watched = Watched(page)
    page.on("console", watched.console)
    page.on("pageerror", watched.page_error)
    page.on("requestfailed", watched.request_failed)
    page.on("response", watched.response)
    try:
        yield watched
        assert watched.problems == [], "\n".join(watched.problems)
        assert any("/console/static/console.js" in url for url in watched.visited)  # it did load
    finally:
        await context.close()


async def sign_in(page: Page, url: str, path: str = "/console") -> None:
    await page.goto(url + path)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
