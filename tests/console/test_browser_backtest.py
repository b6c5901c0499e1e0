"""The console in a real browser: an operator backtests a candidate rules file from the Rules
page, reads what it would have sent beside the rules in force, follows a run it would newly
notify and reads on the run's page why the rule in force does not. No console error, no failed
request (browser.py); nothing is sent."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.console.browser import sign_in, watched_page
from tests.console.world import World


def candidate(sink: str) -> str:
    return f"""sources:
  recoup: {{kind: recoup}}
channels:
  hook: {{kind: webhook, url: "{sink}"}}
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [hook]
  - name: done
    match: {{status: COMPLETED}}
    notify: [hook]
"""


async def test_backtest_a_candidate_and_see_why_a_rule_does_not_match(world: World, browser: Browser) -> None:
    await world.failed_run("run_bad", task="nightly-report")
    await world.push("run_ok", task="nightly-report", status="COMPLETED")
    arrived = world.sink.arrived
    async with watched_page(browser) as w:
        page = w.page
        await sign_in(page, world.url)
        await page.get_by_role("link", name="Rules").click()
        await page.get_by_label("Candidate rules.yaml").fill(
            candidate(world.relay.relay.ruleset.channels["hook"].url)
        )
        await page.get_by_label("Period").select_option("1d")
        await page.get_by_role("button", name="Run backtest").click()

        result = page.get_by_role("region", name="2 transitions scanned")
        await expect(result).to_contain_text("Runs notified: 2 (rules in force: 1); newly 1, no longer 0")
        done = result.get_by_role("row", name=re.compile("^done"))
        newly = re.compile(r"^1\s*run_ok$")  # how many, then each run's link
        await expect(done.locator("td")).to_have_text(["hook", "1", "0", "0", "0", newly, "0"])
        failures = result.get_by_role("row", name=re.compile("^failures"))
        await expect(failures.locator("td").nth(1)).to_have_text("1")
        await expect(page.get_by_label("Candidate rules.yaml")).to_have_value(re.compile("name: done"))
        assert world.sink.arrived == arrived  # nothing sent

        await done.get_by_role("link", name="run_ok").click()
        await expect(page.get_by_role("heading", name="Run run_ok")).to_be_visible()
        why = page.locator(".verdicts")
        await expect(why).to_contain_text("failures: phase succeeded not in [crashed, expired, failed")
