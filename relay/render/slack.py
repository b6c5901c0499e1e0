"""A Message as a Slack incoming webhook's payload: Block Kit with a plain-text fallback.

Run data is escaped wherever it lands (`&`, `<`, `>` in every mrkdwn text and in the fallback
`text`, so no `<!channel>`, `<@U…>` or `<url|label>` of a run's making survives); mrkdwn texts
are `verbatim`, so Slack links no bare URL of a run's text either. The only links are the
message's link fields, http(s) only. Text is cut before it is escaped, so every Slack limit
holds and a code block is always closed; what does not fit is counted ("… and N more").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from relay.models import Message
from relay.render.escape import clean, fit, one_line, truncate, web_url
from relay.render.text import more_line, text_lines

ICONS = {"success": ":white_check_mark:", "failure": ":x:", "info": ":information_source:"}

SECTION_LIMIT = 3000  # characters Slack accepts in one section's text
HEADER_LIMIT = 150  # in a header block
FIELD_LIMIT = 2000  # in one field of a section
MAX_FIELDS = 10  # per section
MAX_BLOCKS = 50  # per message
LABEL_LIMIT = 100  # characters of a link's label
ROW_LIMIT = 500  # characters of one row of a table
URL_LIMIT = 2500  # a longer URL is shown as text, not linked (a link must fit in one section)
ROW_URL_LIMIT = 2000  # in a row, with the row's text

Block = dict[str, Any]
_BACKTICKS = re.compile("`(?=`)")


def slack_payload(message: Message) -> dict[str, Any]:
    blocks = [_header(message), *_content(message)]
    footer = [_context(f"<{target}|Open the run>")] if (target := _target(message.link)) else []
    if console := _target(message.console):
        footer.append(_context(f"<{console}|Replay or silence in the relay console>"))
    room = MAX_BLOCKS - len(blocks) - len(footer) - 1  # one for "… and N more"
    rows, left = _rows(message, room)
    more = message.more + left
    blocks += rows + ([_section(_escape(more_line(more)))] if more else []) + footer
    return {"text": _fallback(message), "blocks": blocks}


def _fallback(m: Message) -> str:
    """The top-level text: Slack shows it in notifications and parses it as mrkdwn too. Rows
    as many as fit, then the count of the rest."""
    facts = text_lines(replace(m, body=truncate(m.body, SECTION_LIMIT), rows=(), row_links=(), more=0))
    text = fit("\n".join([one_line(m.title), *facts]), SECTION_LIMIT - ROW_LIMIT, _escape)
    items = m.rows[1:]
    rows = [
        "  ".join(one_line(cell, ROW_LIMIT) for cell in row) + (f" {link}" if link else "")
        for row, link in zip(items, _pad(m.row_links, len(items)), strict=True)
    ]
    shown = 0
    for row in rows:
        line = fit(row, ROW_LIMIT, _escape)
        if len(text) + len(line) + 1 > SECTION_LIMIT - len(more_line(len(rows) + m.more)) - 1:
            break
        text, shown = f"{text}\n{line}", shown + 1
    left = len(rows) - shown + m.more
    return f"{text}\n{_escape(more_line(left))}" if left else text


def _header(m: Message) -> Block:
    # plain_text: Slack parses nothing in it (no mentions, no links, no markup)
    text = fit(f"{ICONS.get(m.severity, '')} {one_line(m.title)}".strip(), HEADER_LIMIT)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _content(m: Message) -> list[Block]:
    blocks = [_section(_text(m.body, SECTION_LIMIT))] if m.body.strip() else []
    blocks += [_section(f"*{_escape(one_line(label, LABEL_LIMIT))}:* {_link(url)}") for label, url in m.links]
    if m.error:
        blocks.append(_section("```" + _text(m.error, SECTION_LIMIT - 6, _code) + "```"))
    fields = [_field(k, v) for k, v in m.fields[:MAX_FIELDS]]
    blocks += [{"type": "section", "fields": fields}] if fields else []
    return blocks


def _rows(m: Message, room: int) -> tuple[list[Block], int]:
    """Slack has no tables: each row a bullet line, as many sections as there is room for;
    the number of rows that did not fit."""
    items = m.rows[1:]
    lines = [_row(row, link) for row, link in zip(items, _pad(m.row_links, len(items)), strict=True)]
    sections: list[Block] = []
    current: list[str] = []
    shown = 0
    for line in lines:
        if len("\n".join([*current, line])) > SECTION_LIMIT:
            if len(sections) + 1 >= room:
                break
            sections.append(_section("\n".join(current)))
            current = []
        current.append(line)
        shown += 1
    if current and room > len(sections):
        sections.append(_section("\n".join(current)))
    elif current:
        shown -= len(current)
    return sections, len(lines) - shown


def _pad(links: tuple[str | None, ...], n: int) -> list[str | None]:
    return [*links[:n], *([None] * (n - len(links)))]


def _row(row: tuple[str, ...], link: str | None) -> str:
    *cells, last = row
    first = fit(" · ".join(one_line(c, ROW_LIMIT) for c in cells if c), ROW_LIMIT, _escape)
    label = one_line(last, ROW_LIMIT)
    if (target := _target(link, ROW_URL_LIMIT)) and label:
        shown = f"<{target}|{fit(label, LABEL_LIMIT, _label)}>"
    else:
        shown = fit(label, ROW_LIMIT, _escape)
    return (f"• *{first}* " if first else "• ") + shown


def _field(key: str, value: str) -> Block:
    name = f"*{_escape(one_line(key, LABEL_LIMIT))}*\n"
    return {"type": "mrkdwn", "text": name + _text(value, FIELD_LIMIT - len(name)), "verbatim": True}


def _link(url: str) -> str:
    """A vetted URL as a link labelled with itself; anything else as text."""
    if target := _target(url):
        return f"<{target}|{fit(web_url(url) or '', LABEL_LIMIT, _label)}>"
    return _text(url, LABEL_LIMIT)


def _target(url: str | None, limit: int = URL_LIMIT) -> str | None:
    """A link's target: a vetted http(s) URL (no <, >, | left in it), & escaped; None if it is
    not one or too long to link."""
    vetted = web_url(url)
    escaped = vetted.replace("&", "&amp;") if vetted else None
    return escaped if escaped and len(escaped) <= limit else None


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _text(text: str, limit: int, escape: Callable[[str], str] | None = None) -> str:
    """Run text for a mrkdwn field: without controls, cut, then escaped."""
    return fit(clean(truncate(text, 2 * limit)), limit, escape or _escape)  # cut early: it may be 1 MB


def _escape(text: str) -> str:
    """&, <, > as entities (no mention, no link) and no run of backticks (no code block)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BACKTICKS.sub("`\u200b", text)  # a zero-width space between two backticks


def _label(text: str) -> str:
    """A link's label: escaped, and without `|`, which would end the link's target early."""
    return _escape(text).replace("|", "¦")


def _code(text: str) -> str:
    """Inside a code block: escaped, and no ``` that would close it early."""
    text = _escape(text)
    return text + "\u200b" if text.endswith("`") else text  # not one with the closing ```
