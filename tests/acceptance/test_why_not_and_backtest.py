"""Why (not)? and backtest over HTTP, on SQLite and PostgreSQL: a preview says for every rule
why it does not notify; a backtest runs a candidate rules.yaml against the recorded transitions
beside the rules in force, and sends and writes nothing."""

from __future__ import annotations

from tests.acceptance.test_webhook_to_channels import World, push, run, world

__all__ = ["world"]  # the fixture, shared with the webhook timeline tests
AUTH = {"authorization": "Bearer admin-token-for-tests"}
PROBLEMS = "[crashed, expired, failed, interrupted, system_failure, timed_out]"


async def test_a_preview_says_why_each_rule_does_not_match(world: World) -> None:
    relay, *_ = world
    await push(relay, run("EXECUTING"))

    answer = await relay.client.post(
        f"{relay.url}/admin/preview", json={"rule": "failures", "run_id": "run_1"}, headers=AUTH
    )

    shown = answer.json()
    assert answer.status_code == 200 and shown["matches"] is False
    assert shown["why_not"].startswith("phase running not in [")
    assert [(r["rule"], r["matches"], r["why_not"]) for r in shown["rules"]] == [
        ("video-ready", False, "status EXECUTING not in [COMPLETED]"),
        ("failures", False, shown["why_not"]),
    ]


async def test_a_preview_names_the_silence_and_keeps_run_data_as_plain_text(world: World) -> None:
    relay, *_ = world
    created = await relay.client.post(
        f"{relay.url}/admin/silences",
        headers=AUTH,
        json={"matchers": {"rule": "video-ready"}, "duration": "1h"},
    )
    silence = created.json()
    hostile = '<img src=x onerror="alert(1)">'

    done = await relay.client.post(
        f"{relay.url}/admin/preview", headers=AUTH, json={"rule": "video-ready", "run": run("COMPLETED")}
    )
    other = await relay.client.post(
        f"{relay.url}/admin/preview",
        headers=AUTH,
        json={"rule": "video-ready", "run": run("COMPLETED", taskIdentifier=hostile)},
    )

    assert done.json()["matches"] is True  # its conditions match; a silence holds it back
    assert done.json()["why_not"].startswith(f"silenced by {silence['id'][:4]}… until ")
    assert other.json()["why_not"] == f'task "{hostile}" does not match "create-content"'


def candidate(world: World) -> str:
    """The rules in force, but video-ready gone, failures to slack only, and a new rule."""
    relay, *_ = world
    channels = relay.relay.ruleset.channels
    return f"""
sources:
  recoup: {{kind: recoup}}
channels:
  slack: {{kind: slack, url: "{channels["slack"].url}"}}
  crm: {{kind: webhook, url: "{channels["crm"].url}"}}
rules:
  - name: failures
    match: {{phase: problem}}
    notify: [slack]
  - name: finished
    match: {{phase: terminal}}
    notify: [crm]
    template: {{title: "done: {{{{ run.task }}}}"}}
"""


async def test_a_backtest_counts_what_a_candidate_would_send_and_sends_nothing(world: World) -> None:
    relay, slack, hook, mails = world
    await push(relay, run("EXECUTING", run_id="run_1"))
    await push(relay, run("FAILED", at="2026-11-25T12:01:00Z", run_id="run_1", error={"message": "boom"}))
    await push(relay, run("COMPLETED", run_id="run_2"))
    before = sorted(d["id"] for d in (await relay.admin("deliveries"))["deliveries"])
    transitions = (await relay.admin("transitions"))["transitions"]

    answer = await relay.client.post(
        f"{relay.url}/admin/backtest", headers=AUTH, json={"rules": candidate(world), "since": "1d"}
    )

    found = answer.json()
    assert answer.status_code == 200, found
    assert found["transitions"] == 3 and found["truncated"] is False and found["limit"] == 10_000
    rows = {(r["rule"], r["channel"]): r for r in found["rules"]}
    failures = rows[("failures", "slack")]
    assert (failures["messages"], failures["messages_in_force"], failures["runs"]) == (1, 1, 1)
    assert rows[("failures", "crm")]["in_candidate"] is False
    assert rows[("failures", "crm")]["no_longer_notified"]["runs"][0]["id"] == "run_1"
    gone = rows[("video-ready", "mail")]
    assert (gone["in_force"], gone["in_candidate"], gone["messages"], gone["messages_in_force"]) == (
        True,
        False,
        0,
        1,
    )
    assert [r["id"] for r in gone["no_longer_notified"]["runs"]] == ["run_2"]
    finished = rows[("finished", "crm")]
    assert finished["messages"] == 2 and finished["newly_notified"]["count"] == 2
    assert [e["title"] for e in finished["examples"]] == ["done: create-content"] * 2
    assert found["runs"]["notified"] == 2 and found["runs"]["no_longer_notified"]["count"] == 0
    # nothing sent, nothing written
    assert sorted(d["id"] for d in (await relay.admin("deliveries"))["deliveries"]) == before
    assert (await relay.admin("transitions"))["transitions"] == transitions


async def test_an_invalid_candidate_gets_its_line_and_changes_nothing(world: World) -> None:
    relay, *_ = world
    broken = (
        "sources:\n  recoup: {kind: recoup}\nchannels: {console: {kind: console}}\nrules:\n"
        "  - name: x\n    match: {colour: red}\n    notify: [console]\n"
    )

    answer = await relay.client.post(f"{relay.url}/admin/backtest", headers=AUTH, json={"rules": broken})
    bad_since = await relay.client.post(
        f"{relay.url}/admin/backtest", headers=AUTH, json={"rules": broken, "since": "forever"}
    )

    assert answer.status_code == 422
    assert answer.json()["file"] == "candidate.yaml" and answer.json()["line"] == 6
    assert "unknown condition 'colour'" in answer.json()["error"]
    assert "/tmp" not in answer.json()["error"]
    assert bad_since.status_code == 422 and bad_since.json()["error"].startswith("since:")
    assert relay.relay.ruleset.rules[0].name == "video-ready"  # the rules in force stay
