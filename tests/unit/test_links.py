"""Signed console links (relay/links.py) and what they add to each kind of message: the link,
and nothing else; without RELAY_PUBLIC_URL not a byte changes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from relay import links
from relay.clock import FakeClock
from relay.config import load_ruleset
from relay.console.guard import safe_next
from relay.errors import ConfigError
from relay.models import Delivery, DeliveryStatus, Message, Phase, Transition, Via
from relay.pipeline import Pipeline
from relay.render.console_link import linked, with_console_link
from relay.render.default import default_message
from relay.render.email import html_body
from relay.render.payload import build_payload
from relay.render.slack import slack_payload
from relay.render.text import text_body
from relay.scheduler import Scheduler
from relay.settings import Settings, public_url
from relay.store.codec import message_from_json, message_to_json
from relay.store.memory import MemoryStore
from tests.builders import T0, snap

KEY = links.derive_key("", "admin-token-for-tests")
BASE = "https://relay.example.com"
URL = f"{BASE}/console/runs/recoup/run_1?sig=" + links.mac(KEY or b"", "recoup", "run_1")


def key() -> bytes:
    assert KEY is not None
    return KEY


def test_a_link_verifies_for_its_run_only() -> None:
    sig = links.mac(key(), "recoup", "run_1")
    assert links.valid(key(), "recoup", "run_1", sig)
    assert not links.valid(key(), "recoup", "run_2", sig)
    assert not links.valid(key(), "other", "run_1", sig)
    assert not links.valid(key(), "recoup", "run_1", sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not links.valid(key(), "recoup", "run_1", "")
    other = links.derive_key("", "another-admin-token")
    assert other is not None and not links.valid(other, "recoup", "run_1", sig)  # a new token retires links


def test_the_key_comes_from_the_link_secret_first() -> None:
    assert links.derive_key("link-secret", "admin") == links.derive_key("link-secret", "other admin")
    assert links.derive_key("link-secret", "admin") != links.derive_key("", "admin")
    assert links.derive_key("", "") is None


def test_source_and_run_id_cannot_be_shifted_into_each_other() -> None:
    assert links.mac(key(), "a", "bc") != links.mac(key(), "ab", "c")


@pytest.mark.parametrize("run_id", ["run_1", "a/b", "x?y=1#z", "with space", "ü&<>\"'"])
def test_a_run_id_is_percent_encoded_into_one_path_segment(run_id: str) -> None:
    url = links.RunLinks(BASE + "/relay", key()).for_run("recoup", run_id)
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "relay.example.com" and not parts.fragment
    prefix = "/relay/console/runs/recoup/"
    assert parts.path.startswith(prefix) and "/" not in parts.path[len(prefix) :]
    assert unquote(parts.path[len(prefix) :]) == run_id
    assert parts.query == f"sig={links.mac(key(), 'recoup', run_id)}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("https://relay.example.com", "https://relay.example.com"),
        ("https://relay.example.com/", "https://relay.example.com"),
        ("http://10.0.0.5:8080/relay/", "http://10.0.0.5:8080/relay"),
    ],
)
def test_public_url_accepted(raw: str, expected: str) -> None:
    assert public_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "relay.example.com",
        "/console",
        "ftp://relay.example.com",
        "https://",
        "javascript:alert(1)",
        "https://relay.example.com/?a=1",
        "https://relay.example.com/#x",
        "https://relay.example.com:port",
        "https://relay example.com",
    ],
)
def test_public_url_refused_with_a_clear_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="RELAY_PUBLIC_URL"):
        public_url(raw)


def test_public_url_needs_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_PUBLIC_URL", BASE)
    monkeypatch.delenv("RELAY_ADMIN_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="RELAY_ADMIN_TOKEN"):
        Settings.from_env()
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "admin-token-for-tests")
    assert Settings.from_env().public_url == BASE


def _delivery() -> Delivery:
    run = snap("FAILED", error="quota exceeded")
    t = Transition("t", "recoup", "run_1", Phase.RUNNING, Phase.FAILED, "EXECUTING", "FAILED", T0, Via.POLL)
    m = default_message(t, run)
    payload = build_payload(t, run, m, rule="r", key="k")
    return Delivery("d", "t", "r", "c", "k", m, payload, DeliveryStatus.PENDING, 0, T0, T0)


def test_without_a_public_url_nothing_changes() -> None:
    planned = [_delivery()]
    assert linked(planned, None, snap("FAILED")) is planned


def test_the_link_is_added_to_every_kind_of_message_and_nothing_else_changes() -> None:
    plain = _delivery()
    withlink = with_console_link(plain, URL)
    m, lm = plain.message, withlink.message

    assert text_body(lm) == text_body(m) + f"\nReplay or silence in the relay console: {URL}"

    html, lhtml = html_body(m), html_body(lm)
    added = (
        f'\n<p style="margin-top: 8px">Replay or silence in the relay console: <a href="{URL}">{URL}</a></p>'
    )
    assert lhtml == html.replace("\n</body>", added + "\n</body>")

    slack, lslack = slack_payload(m), slack_payload(lm)
    assert lslack["blocks"][:-1] == slack["blocks"]
    assert lslack["blocks"][-1]["elements"][0]["text"] == f"<{URL}|Replay or silence in the relay console>"
    assert lslack["text"].startswith(slack["text"]) and URL in lslack["text"]

    assert withlink.payload["message"] == plain.payload["message"] | {"console_url": URL}
    assert {k: v for k, v in withlink.payload.items() if k != "message"} == {
        k: v for k, v in plain.payload.items() if k != "message"
    }
    assert "console" not in json.dumps(plain.payload) + json.dumps(slack) + html + text_body(m)


def test_a_link_that_is_no_web_url_is_never_linked() -> None:
    m = replace(_delivery().message, console="javascript:alert(1)")
    assert "javascript" not in json.dumps(slack_payload(m)["blocks"])
    assert 'href="javascript' not in html_body(m)


def test_message_with_link_survives_the_store() -> None:
    lm = with_console_link(_delivery(), URL).message
    assert message_from_json(message_to_json(lm)) == lm
    assert message_from_json(message_to_json(replace(lm, console=None))).console is None


def test_messages_stored_before_links_read_back() -> None:
    assert message_from_json(json.dumps({"title": "t", "body": "b", "fields": []})) == Message("t", "b")


STUCK_RULES = """
sources: {recoup: {kind: recoup}}
channels: {chat: {kind: webhook, url: "http://127.0.0.1:9/chat"}}
rules:
  - {name: failures, match: {phase: problem}, notify: [chat]}
  - {name: stuck, match: {phase: running}, notify: [chat], stuck_after: 30m}
"""


async def test_transitions_and_stuck_alerts_link_their_run_on_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(STUCK_RULES)
    ruleset, clock, store, wakeup = load_ruleset(path), FakeClock(T0), MemoryStore(), asyncio.Event()
    run_links = links.RunLinks(BASE, key())
    pipeline = Pipeline(store, ruleset, clock, wakeup, links=run_links)
    scheduler = Scheduler(store, ruleset, clock, wakeup, links=run_links)

    await pipeline.ingest(replace(snap("FAILED", run_id="run/1", error="boom"), updated_at=T0))
    await pipeline.ingest(replace(snap("EXECUTING", run_id="run_2"), updated_at=T0))
    clock.current += timedelta(minutes=31)
    assert (await scheduler.tick()).stuck_alerts == 1

    found = {d.rule: d for d in await store.deliveries(DeliveryStatus.PENDING)}
    assert found["failures"].message.console == run_links.for_run("recoup", "run/1")
    assert found["failures"].message.console.startswith(f"{BASE}/console/runs/recoup/run%2F1?sig=")
    assert found["failures"].payload["message"]["console_url"] == found["failures"].message.console
    assert found["stuck"].message.console == run_links.for_run("recoup", "run_2")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/console",
        "//evil.example/console",
        "/\\evil.example",
        "/console\\@evil.example",
        "javascript:alert(1)",
        "console/runs",
        "",
        None,
    ],
)
def test_sign_in_goes_back_to_console_paths_only(target: str | None) -> None:
    assert safe_next(target) == "/console"


def test_sign_in_goes_back_to_the_linked_run() -> None:
    link = links.RunLinks(BASE, key()).for_run("recoup", "run/1")
    path = link.removeprefix(BASE)
    assert safe_next(path) == path
