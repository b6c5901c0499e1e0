"""The console in a real browser (Debian's chromium, driven by Playwright): an operator signs
in, finds a failed run, reads why its notification failed, replays it and sees it arrive;
bulk-replays dead letters; silences a task and sees its notification recorded as silenced;
signs out. Every page visited shows no console error and no failed request (browser.py)."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from relay.models import DeliveryStatus
from tests.console.browser import sign_in, watched_page
from tests.console.world import World


async def test_find_a_failed_run_see_the_error_replay_it_and_sign_out(world: World, browser: Browser) -> None:
    dead = await world.failed_run("run_42", task="nightly-report")
    async with watched_page(browser) as w:
        page = w.page
        await page.goto(world.url + "/")
        await expect(page).to_have_url(re.compile(r"/console/signin\?next=%2Fconsole$"))
        await sign_in(page, world.url, "/")
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await expect(page.get_by_role("region", name="Recent failures")).to_contain_text("nightly-report")

        await page.get_by_role("link", name="Runs", exact=True).click()
        await page.get_by_label("Status").fill("failed")
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(re.compile(r"status=failed"))
        await page.get_by_role("link", name="run_42").click()

        timeline = page.locator(".timeline")
        await expect(timeline).to_contain_text("unknown → FAILED")
        attempts = timeline.locator("table.attempts")
        await expect(attempts).to_contain_text("sink says no")  # the receiver's answer
        await expect(attempts.locator("td").nth(3)).to_have_text("500")
        await expect(page.locator("pre.error-block")).to_contain_text("quota exceeded")  # the run's error
        shown = page.locator("time").first  # in Berlin time, UTC on hover
        assert "UTC" in (await shown.get_attribute("title") or "")
        assert "UTC" not in (await shown.text_content() or "")

        world.sink.always_fail = None
        await page.get_by_role("button", name=f"Replay delivery {dead.id}").click()
        await expect(page.get_by_role("status")).to_contain_text("pending again")
        (arrived,) = await world.sink.wait_for(1)
        assert arrived.json()["run"]["id"] == "run_42"
        await world.deliveries(DeliveryStatus.SENT, 1)
        await page.reload()
        await expect(page.locator(".facts")).to_contain_text("sent")

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await page.goto(world.url + "/console/runs")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out for good


async def test_bulk_replay_the_dead_letters_after_a_confirmation(world: World, browser: Browser) -> None:
    for n in range(3):
        await world.failed_run(f"run_b{n}")
    async with watched_page(browser) as w:
        page = w.page
        await sign_in(page, world.url)
        channels = page.get_by_role("region", name="Channels")
        await channels.get_by_role("link", name="3").click()  # hook's dead letters
        await expect(page.locator("tbody tr")).to_have_count(3)

        await page.get_by_role("link", name="Replay the dead letters of hook").click()
        await expect(page.locator("main")).to_contain_text("This sends 3 dead letters of channel hook again")
        assert world.sink.arrived == 6  # nothing sent again yet: 3 runs, 2 refused tries each
        world.sink.always_fail = None
        await page.get_by_role("button", name="Replay 3 dead letters").click()
        await expect(page.get_by_role("status")).to_contain_text("(3)")
        received = await world.sink.wait_for(3)
        assert sorted(r.json()["run"]["id"] for r in received) == ["run_b0", "run_b1", "run_b2"]

        await world.deliveries(DeliveryStatus.SENT, 3)
        await page.get_by_role("link", name="Rules").click()
        rule = page.get_by_role("row", name=re.compile("^failures"))
        await expect(rule).to_contain_text("3 matched: 3 sent")


async def test_a_silence_records_a_matching_notification_as_silenced(world: World, browser: Browser) -> None:
    await world.failed_run("run_p1", task="backup-logs")  # earlier today: what a preview finds
    await world.failed_run("run_p2", task="nightly-report")
    async with watched_page(browser) as w:
        page = w.page
        await sign_in(page, world.url)
        await page.get_by_role("link", name="Silences").click()
        await page.get_by_label("Task").fill("backup-*")
        await page.get_by_label("Duration").fill("1h")
        await page.get_by_label("Comment").fill("disk swap tonight")
        await page.get_by_role("button", name="Preview the last 24 h").click()
        preview = page.get_by_role("region", name=re.compile("Would have muted"))
        await expect(preview).to_contain_text("Would have muted 1 notification in the last 24 hours")
        await expect(preview).to_contain_text("backup-logs")
        await expect(preview).not_to_contain_text("nightly-report")
        assert await world.relay.relay.store.silences() == []  # a preview creates nothing
        await expect(page.get_by_label("Task")).to_have_value("backup-*")  # the form kept
        await page.get_by_role("button", name="Create silence").click()
        await expect(page.get_by_role("status")).to_contain_text("The silence is active")
        active = page.get_by_role("region", name="Active")
        await expect(active).to_contain_text("task=backup-*")

        refused = world.sink.arrived
        await world.push("run_s1", task="backup-db")
        await world.deliveries(DeliveryStatus.SILENCED, 1)
        await page.get_by_role("link", name="Deliveries").click()
        await page.get_by_label("Status").select_option("silenced")
        await page.get_by_role("button", name="Filter").click()
        row = page.locator("tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("backup-db")
        await expect(row).to_contain_text("silenced")
        assert world.sink.arrived == refused  # recorded, never sent

        await page.get_by_role("link", name="Silences").click()
        await page.get_by_role("button", name=re.compile("Expire the silence")).click()
        await expect(page.get_by_role("status")).to_contain_text("The silence has ended")
        await expect(page.get_by_role("region", name="Active")).to_contain_text("No active silence")
