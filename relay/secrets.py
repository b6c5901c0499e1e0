"""Secrets never leave the process: every value substituted from the environment into the
configuration is registered here, and `redact` masks them in logs, errors, attempt excerpts
and API responses.

Some URLs are credentials in parts: Slack's `https://hooks.slack.com/services/T…/B…/token`,
Discord's `discord://id/token`, `mailtos://user:pass@host`, `?token=...`. A receiver may echo
back only the path, only the token, or the URL percent-encoded, so `register_url` and
`register_credentials` register those parts one by one (also percent-encoded), not only the
whole URL. Innocent words (`services`, `api`, `webhooks`, host names) stay readable.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

_MIN_LEN = 6  # shorter values (ports, flags) would mask innocent text
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

_PIECES = re.compile(r"[A-Za-z0-9_\-]+")
_WORDS = re.compile(r"[a-z]+(?:[-_][a-z]+)*")  # `incoming-webhook`: a name, not a token
_CREDENTIAL_KEY = re.compile(r"token|key|secret|pass|pwd|auth|sig|code|credential", re.IGNORECASE)


def register(value: str) -> None:
    global _pattern
    if len(value) < _MIN_LEN or value in _secrets:
        return
    _secrets.add(value)
    # one pattern, longest first, so a secret containing another is masked whole
    ordered = sorted(_secrets, key=len, reverse=True)
    _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_url(url: str) -> None:
    """A URL that is a credential as a whole (a channel's): the URL and every part of it that
    looks like a token (host, path and userinfo pieces, query values), besides its credentials."""
    _register_forms(url)
    if (parts := _parsed(url)) is None:
        return
    register_credentials(url)
    # the raw netloc: `hostname` would lower-case a token written as the host (discord://id/...)
    text = " ".join([parts.netloc, unquote(parts.path), *(v for _, v in parse_qsl(parts.query))])
    for piece in _PIECES.findall(text):
        if looks_like_token(piece):
            register(piece)


def register_credentials(url: str) -> None:
    """Only what is a credential in a URL that is not one itself (a source's `base_url`):
    the password of its userinfo and query values named like a key or token."""
    if (parts := _parsed(url)) is None:
        return
    if parts.password:
        userinfo = parts.netloc.rpartition("@")[0]
        _register_forms(parts.password)
        _register_forms(userinfo)
        register(base64.b64encode(unquote(userinfo).encode()).decode())  # as HTTP Basic sends it
    for key, value in parse_qsl(parts.query):
        if _CREDENTIAL_KEY.search(key):
            _register_forms(value)


def _parsed(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in the host: config validation says so, not us
        return None


def looks_like_token(piece: str) -> bool:
    """Random-looking: at least 8 characters with 2 digits, or 16 that are not plain words."""
    digits = sum(c.isdigit() for c in piece)
    return len(piece) >= 8 and (digits >= 2 or (len(piece) >= 16 and not _WORDS.fullmatch(piece)))


def _register_forms(value: str) -> None:
    """The value as written, decoded, and percent-encoded (as a receiver may echo it)."""
    for form in {value, unquote(value)}:
        register(form)
        register(quote(form, safe=""))
        register(quote(form, safe="/:"))


def redact(text: str) -> str:
    return _pattern.sub("***", text) if _pattern is not None else text
