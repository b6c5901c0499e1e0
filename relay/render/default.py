"""Default Messages, written so that no template is needed, and the text helpers every
channel shares. Pure.

COMPLETED shows the video link (and caption, template, song); failures show the error's
name and message. A `data:` URL (early create-content versions inlined the whole MP4) is
never pasted: the message says an inline video of N bytes was rendered and links the run.

Run data is untrusted: a Message carries it as plain text, and links only in the fields that
are links (`link`, `links`, `row_links`), each vetted by `web_url` where it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from relay.models import Link, Message, Phase, Snapshot, Transition

ERROR_LIMIT = 1500  # characters of error text in a message; stack traces stay in the store
CAPTION_LIMIT = 280
TITLE_LIMIT = 200  # also the e-mail subject's
FIELD_LIMIT = 200  # a template name, a song title
BODY_LIMIT = 20_000  # of a (template's) body in an e-mail or on the console
# C0 and C1 controls but tab and newline (ESC starts ANSI sequences, CR rewrites a line,
# NUL ends C strings), and the bidirectional overrides that reorder what a reader sees
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_URL_SAFE = ";/?:@&=+$,-_.!~*'()#%[]"  # what stays as it is in a URL; the rest is %-encoded


def clean(text: str) -> str:
    """Text without control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


# what chat services read as a mention or a channel link: @everyone (Discord), @here, @channel,
# <@U1>, <!here>, <#C1> (Slack-style markup that Mattermost, Rocket.Chat and others share too)
_MENTION = re.compile(r"@(?=(?:everyone|here|channel|all)\b)|<(?=[@!#])", re.IGNORECASE)


def inert_mentions(text: str) -> str:
    """Text with every mention broken by a zero-width space: it reads the same, pings nobody.
    For chat services apprise sends to as text, where we cannot escape their markup."""
    return _MENTION.sub(lambda m: m.group() + "\u200b", text)


def one_line(text: str, limit: int = TITLE_LIMIT) -> str:
    """Clean text on one line (a title, a subject), at most `limit` characters."""
    head = truncate(text, 4 * limit)  # enough to fill `limit` once whitespace is collapsed
    return truncate(" ".join(clean(head).split()), limit)


def web_url(url: object) -> str | None:
    """An http(s) URL with a host, with every character that could end a link or an attribute
    %-encoded (<, >, |, quotes, spaces, controls); None for anything else."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=_URL_SAFE)


def is_data_url(value: object) -> bool:
    return isinstance(value, str) and value.lstrip()[:5].lower() == "data:"


def video_url(output: dict[str, Any] | None) -> str | None:
    """A linkable video URL from a create-content output, or None."""
    if not output:
        return None
    video = output.get("video")
    signed = video.get("signedUrl") if isinstance(video, dict) else None
    for candidate in (signed, output.get("videoSourceUrl")):
        if url := web_url(candidate):
            return url
    return None


def inline_video_bytes(output: dict[str, Any] | None) -> int | None:
    """Size of an inline `data:` video, from renderedVideoBytes or the URL's own length."""
    url = (output or {}).get("videoSourceUrl")
    if not isinstance(url, str) or not is_data_url(url):
        return None
    declared = (output or {}).get("renderedVideoBytes")
    if isinstance(declared, int):
        return declared
    payload = url.partition(",")[2]
    return len(payload) * 3 // 4  # base64 -> bytes


def safe_output(output: dict[str, Any] | None) -> dict[str, Any] | None:
    """The output with every `data:` URL replaced by a short note (for payloads and templates)."""
    if output is None:
        return None
    return {k: _safe_value(v) for k, v in output.items()}


def _safe_value(value: Any) -> Any:
    if is_data_url(value):
        return f"[inline data omitted: {len(value)} characters]"
    if isinstance(value, dict):
        return {k: _safe_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_value(v) for v in value]
    return value


def fit(text: str, limit: int, escape: Callable[[str], str] = str) -> str:
    """`text` cut, then escaped, so that the result is at most `limit` characters: cutting
    first never splits an entity or leaves a code block open."""
    budget = limit
    while True:
        out = escape(truncate(text, budget))
        if len(out) <= limit or budget <= 1:
            return out
        budget = max(1, min(budget - 1, budget * limit // len(out)))


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line or word end when one is near, marked with …"""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for boundary in ("\n", " "):
        at = cut.rfind(boundary)
        if at >= limit * 0.8:
            return cut[:at].rstrip() + " …"
    return cut + "…"


def default_message(transition: Transition, run: Snapshot) -> Message:
    phase = transition.to_phase
    title = one_line(f"{run.task} {_verb(phase, run.status)} ({run.source})")
    lines = [f"Run {run.run_id}: {transition.from_status or 'unknown'} → {run.status}"]
    if transition.skipped:
        unseen = ", ".join(p.value for p in transition.skipped)
        lines[0] += f" (passed through {unseen} between two observations)"
    fields: list[tuple[str, str]] = []
    links: list[Link] = []
    error = None
    if phase == Phase.SUCCEEDED:
        lines += _success_lines(run, fields, links)
    elif phase.terminal and run.error:
        name = f"{run.error.name}: " if run.error.name else ""
        error = truncate(name + run.error.message, ERROR_LIMIT)
    elif phase.problem:
        lines.append("No error details were reported.")
    if run.duration_ms:
        fields.append(("Duration", duration_text(run.duration_ms)))
    if run.cost_cents:
        fields.append(("Cost", f"${run.cost_cents / 100:.2f}"))
    severity = "success" if phase == Phase.SUCCEEDED else "failure" if phase.problem else "info"
    return Message(
        title, "\n".join(lines), severity, web_url(run.url), tuple(fields), links=tuple(links), error=error
    )


def duration_text(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def _verb(phase: Phase, status: str) -> str:
    words = {
        Phase.SUCCEEDED: "completed",
        Phase.FAILED: "failed",
        Phase.CRASHED: "crashed",
        Phase.SYSTEM_ERROR: "hit a system failure",
        Phase.CANCELED: "was canceled",
        Phase.TIMED_OUT: "timed out",
        Phase.EXPIRED: "expired",
        Phase.SKIPPED: "was skipped",
        Phase.MISSED: "missed its scheduled run",
    }
    return words.get(phase, f"is {status.lower()}")


def _success_lines(run: Snapshot, fields: list[tuple[str, str]], links: list[Link]) -> list[str]:
    output = run.output or {}
    lines: list[str] = []
    url = video_url(output)
    inline = inline_video_bytes(output)
    if url:
        links.append(Link("Video", url))
    elif inline is not None:
        where = " (see the run's page)" if web_url(run.url) else f" (run {run.run_id})"
        lines.append(f"An inline video of {inline} bytes was rendered; it is not linked here{where}.")
    if isinstance(caption := output.get("captionText"), str) and caption:
        lines.append(f"Caption: {truncate(caption, CAPTION_LIMIT)}")
    if isinstance(template := output.get("template"), str):
        fields.append(("Template", truncate(template, FIELD_LIMIT)))
    audio = output.get("audio")
    if isinstance(audio, dict) and audio.get("songTitle"):
        fields.append(("Song", truncate(str(audio["songTitle"]), FIELD_LIMIT)))
    if image := web_url(output.get("imageUrl")):
        links.append(Link("Image", image))
    return lines


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
    return clean("\n".join(lines)).splitlines()  # a field's newline too starts a line
