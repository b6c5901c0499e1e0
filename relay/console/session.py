"""The console's signed values, pure: the session cookie, the sign-in form's cookie and the CSRF
token of each form.

Every value is signed with HMAC-SHA256 under a key derived from the admin token, so changing
the token signs every session out, and nothing is stored server-side. A signed value reads
`kind.nonce.expires.mac`: the kind keeps a sign-in cookie from passing for a session, the expiry
(Unix seconds) bounds how long a stolen cookie works. A form's CSRF token is the HMAC of its
session's nonce: tied to that session, unknown to another site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

SESSION = "session"
SIGNIN = "signin"
SESSION_SECONDS = 12 * 3600  # a signed-in browser signs in again after this
SIGNIN_SECONDS = 3600  # the sign-in form is good for an hour
_CONTEXT = b"run-relay console v1"


@dataclass(frozen=True)
class Signed:
    """What a valid signed value carries: its nonce (the session's or the sign-in form's)."""

    kind: str
    nonce: str
    expires: int


def derive_key(admin_token: str) -> bytes:
    return hmac.new(admin_token.encode(), _CONTEXT, hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # never holds ".", the separator


def seal(key: bytes, kind: str, nonce: str, now: datetime, seconds: int) -> str:
    body = f"{kind}.{nonce}.{int(now.timestamp()) + seconds}"
    return f"{body}.{_mac(key, body)}"


def unseal(key: bytes, kind: str, value: str | None, now: datetime) -> Signed | None:
    """The signed value if it is of `kind`, unaltered and not expired; None otherwise."""
    parts = (value or "").split(".")
    if len(parts) != 4 or not parts[2].isascii() or not parts[2].isdigit():
        return None
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3].encode(), _mac(key, body).encode()):
        return None
    if parts[0] != kind or int(parts[2]) <= now.timestamp():
        return None
    return Signed(parts[0], parts[1], int(parts[2]))


def csrf_token(key: bytes, nonce: str) -> str:
    return _mac(key, f"csrf.{nonce}")


def csrf_ok(key: bytes, nonce: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), csrf_token(key, nonce).encode())


def token_ok(given: str, admin_token: str) -> bool:
    """Constant time, whatever the lengths: both sides hashed first."""
    a, b = hashlib.sha256(given.encode()).digest(), hashlib.sha256(admin_token.encode()).digest()
    return hmac.compare_digest(a, b)


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
