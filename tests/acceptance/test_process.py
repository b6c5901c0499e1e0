"""The relay as a process: the README's example, a crash between accepting and delivering,
and `relay check` on a broken file."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import httpx2 as httpx

from tests.acceptance.harness import ADMIN_TOKEN, ROOT, Process, relay_cli, relay_cli_async, relay_process
from tests.checks import validate_payload
from tests.fakes.sinks import RecordingSink, recording_sink

README_UPDATE = {
    "id": "run_demo_1",
    "taskIdentifier": "create-content",
    "status": "COMPLETED",
    "createdAt": "2026-11-25T09:00:00Z",
    "updatedAt": "2026-11-25T09:02:00Z",
    "finishedAt": "2026-11-25T09:02:00Z",
    "output": {
        "videoSourceUrl": "https://v3.fal.media/files/demo/final.mp4",
        "captionText": "new single out now",
        "template": "artist-caption-bedroom",
    },
}
NO_CREDENTIALS = {
    "RECOUP_API_KEY": "",
    "SLACK_WEBHOOK_URL": "",
    "RELAY_EMAIL_URL": "",
    "RECOUP_WEBHOOK_SECRET": "",
}


async def test_readme_example_prints_the_notification_with_no_credentials(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "rules.yaml", config)
    with relay_process(config, tmp_path / "relay.db", NO_CREDENTIALS) as relay:
        await relay.wait_for_output("source_polling_disabled source=recoup")
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{relay.url}/hooks/recoup", json=README_UPDATE)
            again = await client.post(f"{relay.url}/hooks/recoup", json=README_UPDATE)
        assert answer.json() == {"accepted": 1, "transitions": 1, "deliveries": 1}
        assert again.json() == {"accepted": 1, "transitions": 0, "deliveries": 0}
        await relay.wait_for_output("Video: https://v3.fal.media/files/demo/final.mp4")
        assert "[console] create-content completed (recoup)" in relay.output()
    # SIGTERM is a clean shutdown (uvicorn re-raises the signal once it has finished)
    assert relay.proc.returncode in (0, -signal.SIGTERM)
    assert "relay_stopped" in relay.output()


async def test_killed_between_accepting_and_delivering_delivers_once_after_restart(
    tmp_path: Path, database_url: str
) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
delivery: {{schedule: [2s], quick_tries: 1}}
""")
        sink.failures = [503]  # the first try fails: the delivery waits 2s in the outbox
        with relay_process(config, database_url) as relay:
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"{relay.url}/hooks/recoup", json=README_UPDATE)
            assert answer.json()["deliveries"] == 1
            await _wait(lambda: sink.answered == 1)
            await _wait_statuses(relay.url, ["pending"])  # the failed try is recorded
            relay.proc.send_signal(signal.SIGKILL)  # no chance to clean up
            relay.proc.wait(5)
        assert sink.received == []
        with relay_process(config, database_url) as relay:
            (got,) = await sink.wait_for(1)
            validate_payload(got.json())
            assert got.json()["run"]["id"] == "run_demo_1"
            await _wait_statuses(relay.url, ["sent"])  # recorded as sent: nothing will send it again
        assert len(sink.received) == 1


def _webhook_rules(config: Path, url: str, delivery: str) -> Path:
    config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
delivery: {{{delivery}}}
""")
    return config


async def test_killed_while_sending_sends_again_with_the_same_id_and_records_the_cut(
    tmp_path: Path, database_url: str
) -> None:
    """The one case where a receiver sees a notification twice: the relay died mid-send."""
    async with recording_sink() as (sink, url):
        # lease: a 2 s timeout, one try -> claimed again 5 s after the first claim
        config = _webhook_rules(tmp_path / "rules.yaml", url, "timeout: 2s, quick_tries: 1")
        sink.answering.clear()  # the receiver holds the request
        with relay_process(config, database_url) as relay:
            await _signal_mid_send(relay, sink, signal.SIGKILL)  # before the request timed out
            relay.proc.wait(5)
        sink.answering.set()
        with relay_process(config, database_url) as relay:
            await _wait_statuses(relay.url, ["sent"])
            log = await _attempt_log(relay.url)
        # the receiver got both: it answered the first when the relay was no longer there
        first, again = await sink.wait_for(2)
        assert first.headers["webhook-id"] == again.headers["webhook-id"] == log["id"]
        assert [a["reason"] for a in log["attempt_log"]] == ["interrupted", "ok"]


async def test_sigterm_lets_a_send_finish_within_the_grace(tmp_path: Path, database_url: str) -> None:
    async with recording_sink() as (sink, url):
        config = _webhook_rules(tmp_path / "rules.yaml", url, "shutdown_grace: 20s")
        sink.answering.clear()
        with relay_process(config, database_url) as relay:
            await _signal_mid_send(relay, sink, signal.SIGTERM)
            await relay.wait_for_output("delivery_draining sending=1 grace=20s")
            sink.answering.set()  # the receiver answers while the relay is stopping
            await _exited(relay.proc)
        with relay_process(config, database_url) as relay:
            await _wait_statuses(relay.url, ["sent"])
            log = await _attempt_log(relay.url)
        assert [a["reason"] for a in log["attempt_log"]] == ["ok"]
        assert sink.arrived == 1  # recorded as sent before the relay stopped: not sent again


async def test_sigterm_hands_back_a_send_that_outlasts_the_grace(tmp_path: Path, database_url: str) -> None:
    async with recording_sink() as (sink, url):
        config = _webhook_rules(tmp_path / "rules.yaml", url, "shutdown_grace: 200ms")
        sink.answering.clear()
        with relay_process(config, database_url) as relay:
            await _signal_mid_send(relay, sink, signal.SIGTERM)
            await _exited(relay.proc)
            assert "relay_stopped" in relay.output()
        sink.answering.set()
        with relay_process(config, database_url) as relay:
            await _wait_statuses(relay.url, ["sent"])  # handed back: sent at once after the restart
            log = await _attempt_log(relay.url)
        first, again = await sink.wait_for(2)
        assert first.headers["webhook-id"] == again.headers["webhook-id"] == log["id"]
        assert [a["reason"] for a in log["attempt_log"]] == ["interrupted", "ok"]


async def _signal_mid_send(relay: Process, sink: RecordingSink, sig: signal.Signals) -> None:
    """One update in, its send held by the receiver, then `sig` to the relay."""
    async with httpx.AsyncClient() as client:
        await client.post(f"{relay.url}/hooks/recoup", json=README_UPDATE)
    await _wait(lambda: sink.arrived == 1)
    relay.proc.send_signal(sig)


async def _exited(proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Without blocking the loop: the sink serving the relay runs on it."""
    await _wait(lambda: proc.poll() is not None, timeout)


async def _attempt_log(url: str) -> dict:  # type: ignore[type-arg]
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient() as client:
        (listed,) = (await client.get(f"{url}/admin/deliveries", headers=auth)).json()["deliveries"]
        answer = await client.get(f"{url}/admin/deliveries/{listed['id']}", headers=auth)
    return answer.json()  # type: ignore[no-any-return]


def test_relay_check_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "channels:\n  ops: {kind: console}\nrules:\n  - name: failures\n"
        "    match: {phase: problem}\n    notify: [slak]\n"
    )
    result = relay_cli("check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:6: rule 'failures': unknown channel 'slak' (defined: ops)" in result.stderr
    good = relay_cli("check", str(ROOT / "rules.yaml"), env=NO_CREDENTIALS)
    assert good.returncode == 0 and "ok (1 sources, 3 channels, 6 rules)" in good.stdout


def test_cli_lists_and_replays_deliveries(tmp_path: Path, database_url: str) -> None:
    db = database_url
    listed = relay_cli("deliveries", "--dead", "--database", db)
    assert listed.returncode == 0 and "no deliveries" in listed.stderr
    missing = relay_cli("replay", "nope", "--database", db)
    assert missing.returncode == 1 and "no dead or sent delivery" in missing.stderr


async def _wait(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


async def _wait_statuses(url: str, statuses: list[str]) -> None:
    import asyncio

    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient() as client:
        for _ in range(500):
            answer = await client.get(f"{url}/admin/deliveries", headers=auth)
            if [d["status"] for d in answer.json()["deliveries"]] == statuses:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries never reached {statuses}")


async def test_poll_once_stores_what_changed(tmp_path: Path, database_url: str) -> None:

    from tests.fakes.recoup_api import FakeRecoupApi

    async with FakeRecoupApi(api_key="placeholder-recoup-key-cli_0123456789") as recoup:
        recoup.put_run("run_a", status="EXECUTING")
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup, base_url: "{recoup.base_url}", api_key: "${{KEY}}"}}}}
channels: {{console: {{kind: console}}}}
rules: [{{name: r, match: {{phase: terminal}}, notify: [console]}}]
""")
        result = await relay_cli_async(
            "poll-once",
            "--config",
            str(config),
            "--database",
            database_url,
            env={"KEY": "placeholder-recoup-key-cli_0123456789"},
        )
    assert result.returncode == 0, result.stderr
    assert "recoup: listed 1, fetched by id 0, re-checked 0, invalid 0, ingested 1" in result.stdout
    assert "placeholder-recoup-key-cli_0123456789" not in result.stdout + result.stderr


def test_preview_shows_each_channel_and_sends_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    run.write_text(
        json.dumps(
            {
                "id": "run_p",
                "taskIdentifier": "create-content",
                "status": "CRASHED",
                "updatedAt": "2026-11-25T09:02:00Z",
                "error": {"message": "Out of memory", "name": "OOMError"},
            }
        )
    )
    email = "mailto://127.0.0.1:9?from=relay@example.com&to=team@example.com&mode=insecure"
    env = {**NO_CREDENTIALS, "RELAY_EMAIL_URL": email}
    result = relay_cli(
        "preview",
        "failures",
        "--run",
        str(run),
        "--config",
        str(ROOT / "rules.yaml"),
        "--database",
        f"sqlite:///{tmp_path / 'p.db'}",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["matches"] is True and set(shown["channels"]) == {"console", "slack", "email"}
    assert "Error: OOMError: Out of memory" in shown["channels"]["console"]["text"]
    assert (
        shown["channels"]["email"]["enabled"]
        and "OOMError: Out of memory" in shown["channels"]["email"]["html"]
    )
    assert shown["channels"]["slack"]["enabled"] is False  # shown, though it has no URL yet
    missing = relay_cli("preview", "nope", "--run", str(run), "--config", str(ROOT / "rules.yaml"), env=env)
    assert missing.returncode == 1 and "no rule named 'nope'" in missing.stderr


def test_silences_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    db = ["--database", database_url]
    bad = relay_cli("silence", "add", "--match", "colour=red", *db)
    assert bad.returncode == 1 and "unknown matcher 'colour'" in bad.stderr
    added = relay_cli("silence", "add", "--match", "task=create-*", "--for", "2h", "--comment", "deploy", *db)
    assert added.returncode == 0, added.stderr
    silence = json.loads(added.stdout)
    assert silence["matchers"] == {"task": "create-*"} and silence["active"]
    listed = relay_cli("silence", "list", *db)
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [silence["id"]]
    assert relay_cli("silence", "expire", silence["id"], *db).returncode == 0
    assert relay_cli("silence", "list", *db).stdout == ""
    assert len(relay_cli("silence", "list", "--all", *db).stdout.splitlines()) == 1
    assert relay_cli("silence", "expire", silence["id"], *db).returncode == 1
