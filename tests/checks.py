"""What a receiver may get from a run's data, checked the same way by every test: Slack
payloads, e-mail HTML and webhook bodies (against the documented JSON Schemas)."""

from __future__ import annotations

import json
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
from apprise.conversion.format import html_to_text

DOCS = Path(__file__).resolve().parents[1] / "docs"
_SLACK_LINK = re.compile(r"<([^<>]*)>")
# a run's text at its most hostile: mentions, links, markup, scripts, header injection, NUL
HOSTILE = (
    "<!channel> <!here> <@U123> <#C1> <https://evil.example|x> *bold* `code` ```fence"
    ' <script>alert(1)</script> <a href="javascript:alert(1)">y</a> &amp; \x1b[31mred\x1b[0m'
    "\r\nBcc: x@y.example\r\n\x00 Video: javascript:alert(1)\nError: <!channel>"
)
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text())  # type: ignore[no-any-return]


def validate_payload(payload: Any) -> None:
    """A webhook body against the schema of its `type` (docs/*.schema.json), formats checked."""
    name = {
        "run.transition": "webhook-payload.schema.json",
        "run.transition.group": "webhook-group.schema.json",
        "digest": "webhook-digest.schema.json",
    }[payload["type"]]
    validator = jsonschema.Draft202012Validator(
        _schema(name), registry=_registry(), format_checker=FORMAT_CHECKER
    )
    validator.validate(payload)


@cache
def _registry() -> Any:
    from referencing import Registry, Resource

    names = ("webhook-payload.schema.json", "webhook-group.schema.json", "webhook-digest.schema.json")
    return Registry().with_resources(
        (_schema(n)["$id"], Resource.from_contents(_schema(n))) for n in names
    )


def slack_links(payload: dict[str, Any]) -> set[str]:
    """The target of every link in a Slack payload (& unescaped)."""
    found = set()
    for text in _mrkdwn_texts(payload):
        for match in _SLACK_LINK.finditer(text):
            found.add(match.group(1).partition("|")[0].replace("&amp;", "&"))
    return found


def assert_slack_safe(payload: dict[str, Any], links: set[str]) -> None:
    """Within Slack's limits, every link one of `links`, no mention, every code block closed,
    and a fallback text without markup."""
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        elif "text" in block:
            assert block["text"]["verbatim"] is True and len(block["text"]["text"]) <= 3000
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 and f["verbatim"] for f in block.get("fields", []))
    for text in _mrkdwn_texts(payload):
        assert text.count("```") % 2 == 0, text
    assert slack_links(payload) <= links, slack_links(payload) - links
    assert "<" not in payload["text"] and ">" not in payload["text"]  # escaped, all of it


def _mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = []
    for block in payload["blocks"]:
        if block["type"] != "header" and "text" in block:
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", []) + block.get("elements", [])]
    return texts


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def html_links(html: str) -> set[str]:
    """Every href of an e-mail's HTML; fails on any tag or attribute the template does not write."""
    parser = _Tags()
    parser.feed(html)
    allowed = {"html", "body", "h2", "p", "pre", "table", "tr", "td", "th", "a"}
    hrefs = set()
    for tag, attrs in parser.tags:
        assert tag in allowed, tag
        for name, value in attrs:
            assert name in ("style", "href"), name
            if name == "href":
                hrefs.add(str(value))
    return hrefs


def apprise_text_part(html: str) -> str:
    """The text/plain part apprise's e-mail plugin derives from an HTML body."""
    return str(html_to_text(html))  # type: ignore[no-untyped-call]
