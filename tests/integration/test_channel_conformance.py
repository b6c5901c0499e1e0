"""The conformance kit: every channel kind keeps the same promises (as Alertmanager's
notify/test does for its notifiers). A run at its most hostile arrives inert, a huge one within
limits, the channel's secret is never in an error, and a refusal is retried or given up on as
relay/delivery/retry.py decides. Real channels, real receivers on loopback, real rendering
(`plan`). A new kind joins by adding a `Kind` to KINDS.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from pathlib import Path

import pytest

from relay.channels.base import Response
from relay.channels.registry import open_channel
from relay.config import DeliveryPolicy, load_ruleset
from relay.delivery.retry import Verdict, outcome, verdict
from relay.dispatch import plan
from relay.models import Delivery, Phase, Snapshot, Transition
from relay.render.escape import TITLE_LIMIT, web_url
from tests.builders import T0, counter, snap
from tests.checks import (
    HOSTILE,
    apprise_text_part,
    assert_slack_safe,
    html_links,
    slack_links,
    validate_payload,
)
from tests.fakes.sinks import recording_sink, smtp_server

SECRET = "k7q2xw9-conformance"  # the channel's credential, from the environment
PAGE = "https://x.example/runs/1?q=<b>|c"
IMAGE = "https://x.example/i.png?a=1&b=<2>"
VETTED = {str(web_url(PAGE)), str(web_url(IMAGE))}  # the only links a reader may get
MAX_TEXT = 30_000  # characters shown of a huge run: its body, error and fields, each cut
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # newline and tab aside
MENTION = re.compile(r"<[@!#]|@(everyone|here|channel|all)\b")


@dataclass
class Seen:
    """One message as its reader gets it (the kind's own inertness checked on the way)."""

    title: str
    text: str
    links: set[str] = field(default_factory=set)  # what a reader can click


@dataclass
class Receiver:
    channel: str  # the channel's entry in rules.yaml, its secret as ${TOKEN}
    seen: Callable[[int], Awaitable[list[Seen]]]


Opens = Callable[[pytest.CaptureFixture[str], int | None], AbstractAsyncContextManager[Receiver]]


@dataclass(frozen=True)
class Kind:
    name: str
    receiver: Opens  # a receiver that takes messages, or refuses them with a status
    token: str = SECRET  # the value of $TOKEN
    apprise: bool = False  # apprise says that a send failed, never why: every failure is retried
    links: bool = True  # it has markup links (plain text kinds spell URLs out, as the run gave them)


@asynccontextmanager
async def console(capsys: pytest.CaptureFixture[str], refuse: int | None) -> AsyncIterator[Receiver]:
    async def seen(count: int) -> list[Seen]:
        lines = capsys.readouterr().out.splitlines()
        assert not any(CONTROL.search(line) for line in lines)
        assert all(line.startswith(("[out] ", "  ")) for line in lines)  # no line fakes a message
        starts = [n for n, line in enumerate(lines) if line.startswith("[out] ")]
        assert len(starts) == count
        ends = [*starts[1:], len(lines)]
        return [Seen(lines[a][6:], "\n".join(lines[a + 1 : b])) for a, b in zip(starts, ends, strict=True)]

    yield Receiver("{kind: console}", seen)


def over_http(entry: Callable[[str], str], read: Callable[[bytes], Seen]) -> Opens:
    """A kind that posts to a recording sink; the sink's refusals quote the URL, token and all."""

    @asynccontextmanager
    async def receiver(_: pytest.CaptureFixture[str], refuse: int | None) -> AsyncIterator[Receiver]:
        async with recording_sink() as (sink, url):
            sink.always_fail, sink.echo = refuse, True

            async def seen(count: int) -> list[Seen]:
                return [read(recorded.body) for recorded in await sink.wait_for(count)]

            yield Receiver(entry(url), seen)

    return receiver


def slack_seen(body: bytes) -> Seen:
    payload = json.loads(body)
    assert_slack_safe(payload, VETTED)  # within limits, markup escaped, code blocks closed
    return Seen(payload["blocks"][0]["text"]["text"], payload["text"], slack_links(payload))


def webhook_seen(body: bytes) -> Seen:
    payload = json.loads(body)
    validate_payload(payload)  # the data as documented; receivers escape it for their medium
    m = payload["message"]
    links = {m["link"], payload["run"]["video_url"], *(link["url"] for link in m["links"])} - {None}
    return Seen(m["title"], f"{m['body']}\n{m['error'] or ''}", links)


def chat_seen(body: bytes) -> Seen:
    sent = json.loads(body)  # apprise's JSON plugin, as any chat service apprise sends text to
    for text in (sent["title"], sent["message"]):
        assert not MENTION.search(text) and not CONTROL.search(text), text
    return Seen(sent["title"].replace("\u200b", ""), sent["message"])


@asynccontextmanager
async def email(_: pytest.CaptureFixture[str], refuse: int | None) -> AsyncIterator[Receiver]:
    answer = {400: "450 mailbox busy", 500: "550 mailbox unavailable"}.get(refuse or 0)
    async with smtp_server(refuse=answer) as (mails, port):

        async def seen(count: int) -> list[Seen]:
            for _ in range(500):  # apprise sends from its own threads: bounded wait
                if len(mails) >= count:
                    break
                await asyncio.sleep(0.01)
            assert len(mails) == count
            return [mail_seen(mail) for mail in mails]

        url = f"mailto://127.0.0.1:{port}?from=relay@example.com&to=${{TOKEN}}&mode=insecure"
        yield Receiver(f'"{url}"', seen)


def mail_seen(mail: EmailMessage) -> Seen:
    subject = str(make_header(decode_header(mail["Subject"])))
    assert not CONTROL.search(subject) and mail["Bcc"] is None  # no header of a run's making
    (part,) = [p for p in mail.walk() if p.get_content_type() == "text/html"]
    html = part.get_payload(decode=True)
    assert isinstance(html, bytes)
    links = html_links(html.decode())  # fails on any tag or attribute the template does not write
    return Seen(subject, apprise_text_part(html.decode()), {link.replace("&amp;", "&") for link in links})


def entry(kind: str, path: str) -> Callable[[str], str]:
    """The rules.yaml entry of a channel of `kind` at a sink's URL (json:// for apprise's JSON)."""
    scheme = "json://" if kind == "apprise" else "http://"
    return lambda url: f'{{kind: {kind}, url: "{url.replace("http://", scheme)}{path}"}}'


KINDS = [
    Kind("console", console, links=False),
    Kind("slack", over_http(entry("slack", "/T0/B0/${TOKEN}"), slack_seen)),
    Kind("webhook", over_http(entry("webhook", "/h?token=${TOKEN}"), webhook_seen)),
    Kind("apprise e-mail", email, token=f"{SECRET}@example.com", apprise=True),
    Kind("apprise chat", over_http(entry("apprise", "/hook/${TOKEN}"), chat_seen), apprise=True, links=False),
]
SENDERS = [kind for kind in KINDS if kind.name != "console"]  # the kinds whose receiver can refuse


def runs(text: str) -> list[Snapshot]:
    """A failure and a success whose every field of run data is `text`, and links that are not."""
    output = {"videoSourceUrl": "javascript:", "captionText": text, "imageUrl": IMAGE, "template": text}
    return [
        snap("FAILED", task=text, error=text, url=PAGE),
        snap("COMPLETED", task=text, url="javascript:alert(1)", output=output),
    ]


async def send(
    kind: Kind, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: list[Snapshot]
) -> list[Response]:
    """Each run planned for the channel by a catch-all rule (real rendering), then sent."""
    monkeypatch.setenv("TOKEN", kind.token)
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"sources: {{recoup: {{kind: recoup}}}}\nchannels: {{out: {receiver.channel}}}\n"
        "rules: [{name: all, notify: [out]}]\n"
    )
    ruleset = load_ruleset(path)
    deliveries: list[Delivery] = []
    for run in sent:
        t = Transition(
            "t", run.source, run.run_id, Phase.RUNNING, run.phase, "EXECUTING", run.status, T0, run.via
        )
        deliveries += plan(t, run, ruleset.rules, ruleset.channels, now=T0, ids=counter()).deliveries
    channel = open_channel(ruleset.channels["out"], timeout=5.0)
    try:
        return [await channel.send(d) for d in deliveries]
    finally:
        await channel.close()


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_a_hostile_run_arrives_inert(
    kind: Kind, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with kind.receiver(capsys, None) as receiver:
        responses = await send(kind, receiver, tmp_path, monkeypatch, runs(HOSTILE))
        assert [verdict(r) for r in responses] == [Verdict.SENT, Verdict.SENT]
        seen = await receiver.seen(2)
    for message in seen:
        assert "\n" not in message.title and not CONTROL.search(message.title)
    # the run's page and image, vetted; never a link of the run's text or a javascript: URL
    assert set().union(*(m.links for m in seen)) == (VETTED if kind.links else set())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_a_run_far_over_every_limit_arrives_within_them(
    kind: Kind, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 165 KB in each of four fields: the webhook's payload (the data itself) stays under 1 MiB,
    # past which aiohttp warns that posting raw bytes may block the event loop
    huge = HOSTILE + "&<>`| word " * 15_000
    async with kind.receiver(capsys, None) as receiver:
        responses = await send(kind, receiver, tmp_path, monkeypatch, runs(huge))
        assert [verdict(r) for r in responses] == [Verdict.SENT, Verdict.SENT]
        seen = await receiver.seen(2)
    for message in seen:
        assert len(message.title) <= TITLE_LIMIT and len(message.text) <= MAX_TEXT


@pytest.mark.parametrize("kind", SENDERS, ids=lambda k: k.name)
async def test_the_channel_s_secret_is_never_in_an_error(
    kind: Kind, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with kind.receiver(capsys, 500) as receiver:  # whose refusal quotes the secret
        (response,) = await send(kind, receiver, tmp_path, monkeypatch, runs("boom")[:1])
    recorded = outcome(response, 0, DeliveryPolicy(), T0).error  # as the attempt and delivery keep it
    assert recorded is not None and "***" in recorded, recorded
    assert kind.token not in f"{recorded} {response}" and SECRET not in f"{recorded} {response}"


@pytest.mark.parametrize("status", [500, 400])
@pytest.mark.parametrize("kind", SENDERS, ids=lambda k: k.name)
async def test_a_5xx_is_retried_and_a_4xx_given_up_unless_apprise_hides_which(
    kind: Kind,
    status: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    async with kind.receiver(capsys, status) as receiver:
        (response,) = await send(kind, receiver, tmp_path, monkeypatch, runs("boom")[:1])
    expected = Verdict.RETRY if status >= 500 or kind.apprise else Verdict.GIVE_UP
    assert not response.ok and verdict(response) == expected
    assert response.http_status == (None if kind.apprise else status)
