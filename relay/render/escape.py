"""Run text made safe to show, whatever the receiver: control characters removed, mentions
made inert, URLs vetted, text cut to a limit (before it is escaped, so the limit holds after).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from urllib.parse import quote, urlsplit

TITLE_LIMIT = 200  # also the e-mail subject's
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
    return _web_url(url) if isinstance(url, str) else None


@functools.lru_cache(maxsize=4096)  # one run's video and page links are vetted ~8 times
def _web_url(url: str) -> str | None:
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=_URL_SAFE)


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
