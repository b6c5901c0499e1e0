"""The console's access rules over real HTTP (no browser): off without an admin token, nothing
reachable without signing in, every form refused without its CSRF token (and nothing changed),
the cookie's attributes, and run data shown as text on every page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from relay.app import create_app
from relay.clock import FakeClock
from relay.models import DeliveryStatus
from relay.settings import Settings
from tests.acceptance.harness import ADMIN_TOKEN
from tests.console.world import XSS_ERROR, XSS_TASK, XSS_URL, World, console_world, csrf_of, sign_in
from tests.fakes.servers import serve

PAGES = [
    "/console",
    "/console/runs",
    "/console/runs?status=failed&task=img",
    "/console/runs/recoup/run_xss",
    "/console/deliveries",
    "/console/deliveries?status=dead&channel=hook",
    "/console/deliveries/{dead}",
    "/console/deliveries/replay-dead?channel=hook",
    "/console/silences",
    "/console/rules",
]
FORMS = [
    ("/console/signout", {}),
    ("/console/deliveries/{dead}/replay", {}),
    ("/console/deliveries/replay-dead", {"channel": "hook"}),
    ("/console/silences", {"task": "nightly-*", "duration": "1h", "comment": "maintenance"}),
    ("/console/silences", {"task": "nightly-*", "duration": "1h", "preview": "1"}),
    ("/console/silences/{silence}/expire", {}),
    ("/console/rules/backtest", {"rules": "rules: []", "since": "1d"}),
]
WRONG = "0" * 64


async def _prepared(world: World) -> dict[str, str]:
    """A dead delivery of a run full of markup, and an active silence: what the forms act on."""
    dead = await world.failed_run(
        "run_xss",
        task=XSS_TASK,
        error={"message": XSS_ERROR, "name": "Error"},
        output={"videoSourceUrl": XSS_URL},
    )
    csrf = await sign_in(world.relay.client, world.url)
    made = await world.relay.client.post(
        f"{world.url}/console/silences",
        data={"csrf": csrf, "rule": "never-*", "duration": "1h", "comment": "<b>not bold</b>"},
    )
    assert made.status_code == 303, made.text
    (silence,) = await world.relay.relay.store.silences(world.relay.relay.clock.now())
    return {"dead": dead.id, "silence": silence.id}


async def test_every_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing(world: World) -> None:
    ids = await _prepared(world)
    client, store, now = world.relay.client, world.relay.relay.store, world.relay.relay.clock.now()
    async with httpx.AsyncClient(timeout=10) as other:  # another signed-in browser: its token
        theirs = await sign_in(other, world.url)

    for path, fields in FORMS:
        url = world.url + path.format(**ids)
        for token in (None, "", WRONG, theirs):
            data = fields | ({"csrf": token} if token is not None else {})
            answer = await client.post(url, data=data)
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert "security token" in answer.text

    assert (await store.delivery(ids["dead"])).status == DeliveryStatus.DEAD  # type: ignore[union-attr]
    assert [s.id for s in await store.silences(now)] == [ids["silence"]]  # none added, none ended
    still = await client.get(f"{world.url}/console")  # not signed out
    assert still.status_code == 200 and "Sign out" in still.text


async def test_the_same_forms_with_their_token_do_act(world: World) -> None:
    """The refusals above are the token's doing: with it, each form works."""
    ids = await _prepared(world)
    client, store = world.relay.client, world.relay.relay.store
    csrf = csrf_of((await client.get(f"{world.url}/console")).text)
    world.sink.always_fail = None

    replayed = await client.post(f"{world.url}/console/deliveries/{ids['dead']}/replay", data={"csrf": csrf})
    assert replayed.status_code == 303
    await world.sink.wait_for(1)
    expired = await client.post(f"{world.url}/console/silences/{ids['silence']}/expire", data={"csrf": csrf})
    assert expired.status_code == 303
    assert await store.silences(world.relay.relay.clock.now()) == []
    out = await client.post(f"{world.url}/console/signout", data={"csrf": csrf})
    assert out.status_code == 303
    assert (await client.get(f"{world.url}/console")).status_code == 303  # signed out


async def test_the_sign_in_form_needs_its_own_token(world: World) -> None:
    client = world.relay.client
    page = await client.get(f"{world.url}/console/signin")
    for token in (None, WRONG):
        data = {"token": ADMIN_TOKEN} | ({"csrf": token} if token else {})
        answer = await client.post(f"{world.url}/console/signin", data=data)
        assert answer.status_code == 403
        assert "relay_console=" not in answer.headers.get("set-cookie", "")
    right = await client.post(
        f"{world.url}/console/signin", data={"csrf": csrf_of(page.text), "token": ADMIN_TOKEN}
    )
    assert right.status_code == 303


async def test_no_page_and_no_form_without_signing_in(world: World) -> None:
    ids = await _prepared(world)
    async with httpx.AsyncClient(timeout=10) as stranger:
        for path in PAGES:
            answer = await stranger.get(world.url + path.format(**ids))
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/console/signin?next=%2Fconsole"), path
            assert "Recent failures" not in answer.text and "img" not in answer.text
        for path, fields in FORMS:
            answer = await stranger.post(world.url + path.format(**ids), data=fields | {"csrf": WRONG})
            assert answer.status_code == 403, path
    assert (await world.relay.relay.store.delivery(ids["dead"])).status == DeliveryStatus.DEAD  # type: ignore[union-attr]


async def test_a_wrong_token_does_not_sign_in(world: World) -> None:
    client = world.relay.client
    page = await client.get(f"{world.url}/console/signin")
    answer = await client.post(
        f"{world.url}/console/signin", data={"csrf": csrf_of(page.text), "token": ADMIN_TOKEN + "x"}
    )
    assert answer.status_code == 401 and "not the admin token" in answer.text
    assert "relay_console=" not in answer.headers.get("set-cookie", "")
    assert (await client.get(f"{world.url}/console")).status_code == 303


async def test_the_session_cookie_is_httponly_strict_and_secure_over_https(world: World) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await sign_in(client, world.url)
    async with httpx.AsyncClient(timeout=10, headers={"x-forwarded-proto": "https"}) as behind_tls:
        page = await behind_tls.get(f"{world.url}/console/signin")
        form_cookie = page.headers["set-cookie"]
        assert "Secure" in form_cookie  # so the client keeps it for https only: sent by hand here
        answer = await behind_tls.post(
            f"{world.url}/console/signin",
            data={"csrf": csrf_of(page.text), "token": ADMIN_TOKEN},
            headers={"cookie": form_cookie.split(";")[0]},
        )
    cookie = answer.headers["set-cookie"]
    assert "relay_console=session." in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" in cookie  # the request came over https (a proxy on loopback said so)


async def test_a_tampered_cookie_is_no_session(world: World) -> None:
    client = world.relay.client
    await sign_in(client, world.url)
    value = client.cookies["relay_console"]
    kind, nonce, expires, mac = value.split(".")
    for forged in (f"{kind}.{nonce}.{int(expires) + 3600}.{mac}", f"{kind}.{nonce}.{expires}.{WRONG}"):
        client.cookies.set("relay_console", forged, domain="127.0.0.1", path="/console")
        assert (await client.get(f"{world.url}/console")).status_code == 303


async def test_after_sign_in_only_console_paths(world: World) -> None:
    client = world.relay.client
    page = await client.get(f"{world.url}/console/signin?next=https://evil.example/")
    answer = await client.post(
        f"{world.url}/console/signin",
        data={"csrf": csrf_of(page.text), "token": ADMIN_TOKEN, "next": "//evil.example/console"},
    )
    assert answer.headers["location"] == "/console"


async def test_run_data_shows_as_text_on_every_page(world: World) -> None:
    ids = await _prepared(world)
    escaped_task = "&lt;img src=x onerror=alert(1)&gt;"
    shown_task, shown_error = set(), set()
    for path in PAGES:
        answer = await world.relay.client.get(world.url + path.format(**ids))
        assert answer.status_code == 200, path
        html = answer.text
        assert "<img src=x" not in html and "<script>alert" not in html, path
        assert 'href="javascript:' not in html and "<b>not bold" not in html, path
        assert "content-security-policy" in answer.headers and "'unsafe-inline'" not in str(answer.headers)
        if escaped_task in html:
            shown_task.add(path)
        if "&lt;script&gt;alert(" in html:
            shown_error.add(path)
    # where the run appears, it appears escaped
    run_pages = {
        "/console",
        "/console/runs",
        "/console/runs?status=failed&task=img",
        "/console/runs/recoup/run_xss",
    }
    assert run_pages | {"/console/deliveries", "/console/deliveries/{dead}"} <= shown_task
    assert {"/console/runs/recoup/run_xss", "/console/deliveries/{dead}"} <= shown_error
    run_page = (await world.relay.client.get(f"{world.url}/console/runs/recoup/run_xss")).text
    assert "javascript:alert(1)" in run_page  # the output's URL: shown, never a link
    silences = (await world.relay.client.get(f"{world.url}/console/silences")).text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in silences


async def test_the_console_is_off_without_an_admin_token(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text("sources: {}\nchannels: {}\nrules: []\n")
    settings = Settings(
        config_path=str(config), database_url=f"sqlite:///{tmp_path / 'r.db'}", admin_token=""
    )
    async with serve(create_app(settings), lifespan="on") as url, httpx.AsyncClient(timeout=10) as client:
        for path in ["/", "/console", "/console/runs", "/console/signin", "/console/static/console.css"]:
            answer = await client.get(url + path)
            assert answer.status_code == 404, path
            assert "RELAY_ADMIN_TOKEN" in answer.text
        for path in ["/console/signin", "/console/signout", "/console/silences"]:
            assert (await client.post(url + path, data={"token": ""})).status_code == 404


async def test_root_leads_to_the_console(world: World) -> None:
    answer = await world.relay.client.get(f"{world.url}/")
    assert answer.status_code == 303 and answer.headers["location"] == "/console"


async def test_the_overview_shows_sources_leaders_backlogs_and_failures(world: World) -> None:
    dead = await world.failed_run("run_o1", task="weekly-export")
    relay = world.relay.relay
    assert await relay.store.hold("poll:recoup", "replica-b:8080", relay.clock.now(), 60) is not None
    await sign_in(world.relay.client, world.url)

    html = (await world.relay.client.get(f"{world.url}/console")).text

    sources = html.split('id="sources-h"')[1].split("</section>")[0]
    assert ">recoup</a>" in sources and "replica-b:8080" in sources and "by its leader" in sources
    channels = html.split('id="channels-h"')[1].split("</section>")[0]
    assert 'href="/console/deliveries?status=dead&amp;channel=hook">1</a>' in channels
    failures = html.split('id="failures-h"')[1].split("</section>")[0]
    assert "weekly-export" in failures and "http_500" in failures and dead.id in failures
    activity = html.split('id="activity-h"')[1].split("</section>")[0]
    for span in ("Last hour", "Last day"):
        assert f"<strong>{span}</strong>: 1 transitions; 1 deliveries (0 sent, 1 dead, 0 pending" in activity
    assert activity.count('<rect class="c-dead"') == 12 + 24  # a bar per 5 minutes, per hour


async def test_a_runs_timeline_shows_the_phases_it_skipped(world: World) -> None:
    await world.push("run_q", status="QUEUED", finishedAt=None, error=None)
    await world.push("run_q", status="COMPLETED", updatedAt="2026-11-25T12:05:00Z", error=None)
    await sign_in(world.relay.client, world.url)

    html = (await world.relay.client.get(f"{world.url}/console/runs/recoup/run_q")).text

    assert "unknown → QUEUED" in html and "QUEUED → COMPLETED" in html
    skipped = 'Skipped phases (not seen between two updates): <span class="status s-skipped">running</span>'
    assert skipped in html
    assert "No notification" in html  # no rule matches a success


async def test_a_silence_preview_counts_the_last_days_matches_and_creates_nothing(world: World) -> None:
    await world.failed_run("run_1", task="backup-db")
    await world.failed_run("run_2", task="nightly-report")
    csrf = await sign_in(world.relay.client, world.url)
    post = world.relay.client.post

    answer = await post(
        f"{world.url}/console/silences",
        data={"csrf": csrf, "task": "backup-*", "duration": "1h", "preview": "1"},
    )

    assert answer.status_code == 200
    preview = answer.text.split('id="preview-h"')[1].split("</section>")[0]
    assert "Would have muted 1 notification in the last 24 hours" in preview
    assert "backup-db" in preview and "nightly-report" not in preview
    assert 'value="backup-*"' in answer.text  # the form keeps what was typed
    every = await post(
        f"{world.url}/console/silences", data={"csrf": csrf, "channel": "hook", "preview": "1"}
    )
    assert "Would have muted 2 notifications" in every.text
    none = await post(f"{world.url}/console/silences", data={"csrf": csrf, "duration": "1h", "preview": "1"})
    assert none.status_code == 422 and "at least one matcher" in none.text
    assert await world.relay.relay.store.silences() == []


async def test_a_silence_needs_a_matcher_and_a_sane_duration(world: World) -> None:
    csrf = await sign_in(world.relay.client, world.url)
    for fields, says in (
        ({"duration": "1h"}, "at least one matcher"),
        ({"task": "x", "duration": ""}, "give a duration"),
        ({"task": "x", "duration": "soon"}, "expected a duration"),
        ({"task": "x", "duration": "400d"}, "at most 365d"),
        ({"colour": "red", "duration": "1h"}, "at least one matcher"),
    ):
        answer = await world.relay.client.post(f"{world.url}/console/silences", data={"csrf": csrf} | fields)
        assert answer.status_code == 422 and says in answer.text, (fields, answer.text[-400:])
    assert await world.relay.relay.store.silences() == []


async def test_runs_filter_by_how_recently_they_were_updated(world: World) -> None:
    now = world.relay.relay.clock.now().isoformat().replace("+00:00", "Z")
    await world.push("run_today", task="fresh", updatedAt=now, finishedAt=now)
    await world.push("run_old", task="stale")  # updated 2026-11-25
    await sign_in(world.relay.client, world.url)
    get = world.relay.client.get

    recent = (await get(f"{world.url}/console/runs?since=24h")).text
    every = (await get(f"{world.url}/console/runs?since=")).text
    odd = await get(f"{world.url}/console/runs?since=forever")

    assert "run_today" in recent and "run_old" not in recent
    assert "run_today" in every and "run_old" in every
    assert odd.status_code == 200 and "run_old" in odd.text  # an unknown period: any time


async def test_a_session_ends_after_twelve_hours(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    async with console_world(tmp_path, clock=clock) as world:
        client = world.relay.client
        await sign_in(client, world.url)
        clock.advance(12 * 3600 - 1)
        assert (await client.get(f"{world.url}/console")).status_code == 200
        clock.advance(1)
        answer = await client.get(f"{world.url}/console/runs")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin")


async def test_the_rules_page_says_what_is_loaded_from_where_and_its_last_day(world: World) -> None:
    await world.failed_run("run_r1")
    await world.push("run_r2", status="COMPLETED", error=None)  # matches no rule
    await sign_in(world.relay.client, world.url)

    html = (await world.relay.client.get(f"{world.url}/console/rules")).text

    row = html.split('<th scope="row">failures</th>')[1].split("</tr>")[0]
    assert world.relay.relay.ruleset.path in html
    assert "<td>7</td>" in row  # the line of `- name: failures` in world.rules()
    assert "<code>phases: crashed, expired, failed, missed, system_error, timed_out</code>" in row
    assert 'href="/console/deliveries?channel=hook">hook</a>' in row
    assert "1 matched: 1 dead" in row
