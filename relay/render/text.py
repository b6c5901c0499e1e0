"""A Message as plain text: on the console, for chat services apprise sends to, and as an
e-mail's text part. Every link is spelled out; run text has no control characters left, and
on the console every line after the title is indented, so a run cannot fake another message.
"""

from __future__ import annotations

from relay.models import Message
from relay.render.escape import clean, inert_mentions, one_line, truncate

BODY_LIMIT = 20_000  # of a (template's) body in an e-mail or on the console


def more_line(count: int) -> str:
    return f"… and {count} more"


def rows_text(rows: tuple[tuple[str, ...], ...], row_links: tuple[str | None, ...] = ()) -> str:
    """A table as aligned plain-text columns (the last column is not padded), each row's link
    spelled out after it."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in rows
    ]
    for n, link in enumerate(row_links[: len(lines) - 1], start=1):  # the header row has none
        lines[n] += f" {link}" if link else ""
    return "\n".join(lines)


def text_lines(m: Message) -> list[str]:
    """Everything a message says, as plain lines (console, chat services, e-mail's text part):
    each link spelled out."""
    lines = [*truncate(m.body, BODY_LIMIT).splitlines()]
    lines += [f"{label}: {url}" for label, url in m.links]
    lines += f"Error: {m.error}".splitlines() if m.error else []
    lines += [f"{k}: {v}" for k, v in m.fields]
    lines += rows_text(m.rows, m.row_links).splitlines()
    lines += [more_line(m.more)] if m.more else []
    lines += [f"Open the run: {m.link}"] if m.link else []
    lines += [f"Replay or silence in the relay console: {m.console}"] if m.console else []
    return clean("\n".join(lines)).splitlines()  # a field's newline too starts a line


def text_body(m: Message) -> str:
    """The message as plain text, every link spelled out."""
    return "\n".join(text_lines(m))


def console_text(channel: str, m: Message) -> str:
    return "\n".join([f"[{channel}] {one_line(m.title)}", *("  " + line for line in text_lines(m))])


def chat_text(m: Message) -> tuple[str, str]:
    """Title and body for a chat service apprise sends to as text: run text pings nobody there."""
    return inert_mentions(one_line(m.title)), inert_mentions(text_body(m))
