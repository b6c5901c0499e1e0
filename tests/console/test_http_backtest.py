"""The Rules page's backtest form over real HTTP (no browser): an invalid candidate is shown
with its line and changes nothing; run data in the answer and in a run's why-not shows as text."""

from __future__ import annotations

from tests.console.world import XSS_TASK, World, sign_in


async def test_an_invalid_candidate_shows_its_line_and_the_form_as_sent(world: World) -> None:
    csrf = await sign_in(world.relay.client, world.url)
    broken = "rules:\n  - name: x\n    match: {colour: red}\n"

    answer = await world.relay.client.post(
        f"{world.url}/console/rules/backtest", data={"csrf": csrf, "rules": broken, "since": "7d"}
    )
    wrong_period = await world.relay.client.post(
        f"{world.url}/console/rules/backtest", data={"csrf": csrf, "rules": broken, "since": "1y"}
    )

    assert answer.status_code == 422 and 'role="alert">candidate.yaml:' in answer.text
    assert "match: {colour: red}" in answer.text  # the textarea keeps what was sent
    assert wrong_period.status_code == 422 and "Choose a period" in wrong_period.text


async def test_run_data_in_a_backtest_and_a_why_not_shows_as_text(world: World) -> None:
    await world.push("run_x", task=XSS_TASK, status="COMPLETED")
    csrf = await sign_in(world.relay.client, world.url)
    candidate = (
        "sources: {recoup: {kind: recoup}}\nchannels: {c: {kind: console}}\n"
        "rules:\n  - {name: all, match: {}, notify: [c]}\n"
    )

    answer = await world.relay.client.post(
        f"{world.url}/console/rules/backtest", data={"csrf": csrf, "rules": candidate, "since": "1d"}
    )
    run_page = await world.relay.client.get(f"{world.url}/console/runs/recoup/run_x")

    assert answer.status_code == 200 and "1 transition scanned" in answer.text
    for html in (answer.text, run_page.text):
        assert XSS_TASK not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'failures</strong>: <span class="why">phase succeeded not in [' in run_page.text
