"""Signed links to a run's page in the console, for messages to carry (RELAY_PUBLIC_URL). Pure.

A link reads `<public url>/console/runs/<source>/<run id>?sig=<mac>`, source and run id each
%-encoded (a run id comes from a platform: it may hold `/`, `?`, `#`, spaces). The mac is an
HMAC-SHA256 over source and run id under a key derived from RELAY_LINK_SECRET, or else from the
admin token (then changing the token also retires every link already sent), cut to 128 bits.
It proves the relay wrote the link: nobody can make one up for a run, and the console refuses
a link whose mac does not fit its run. It grants nothing by itself: the page still needs a
signed-in session.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

PARAM = "sig"
_CONTEXT = b"run-relay run links v1"
_MAC_CHARS = 32  # hex digits: 128 bits


def derive_key(link_secret: str, admin_token: str) -> bytes | None:
    """The links' key: from RELAY_LINK_SECRET when set, else from the admin token; None
    without either (no links then)."""
    secret = link_secret or admin_token
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest() if secret else None


def mac(key: bytes, source: str, run_id: str) -> str:
    # NUL cannot be typed into a source name: ("a", "b\0c") and ("a\0b", "c") stay apart
    body = f"{source}\0{run_id}".encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()[:_MAC_CHARS]


def valid(key: bytes, source: str, run_id: str, given: str) -> bool:
    return hmac.compare_digest(given.encode(), mac(key, source, run_id).encode())


@dataclass(frozen=True)
class RunLinks:
    """Builds the console links of this relay: its public URL (no trailing slash) and key."""

    public_url: str
    key: bytes

    def for_run(self, source: str, run_id: str) -> str:
        path = f"/console/runs/{quote(source, safe='')}/{quote(run_id, safe='')}"
        return f"{self.public_url}{path}?{PARAM}={mac(self.key, source, run_id)}"
