"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways.

signed content = f"{webhook-id}.{webhook-timestamp}.{body}"; signature = base64(HMAC-SHA256);
header `webhook-signature: v1,<sig> [v1,<sig2> ...]`, one signature per secret while secrets
rotate.

The key is read exactly as the reference library (`standardwebhooks.Webhook(secret)`) reads
it: an optional `whsec_` prefix is dropped and the rest is base64-decoded, padding optional
(`base64.b64decode(rest + "==")`, which also skips characters outside the base64 alphabet).
A secret that does not decode to at least one byte is no key: `key` raises ValueError, and
rules.yaml is rejected at load for a secret that must be one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from collections.abc import Iterable

DEFAULT_TOLERANCE = 300.0  # seconds between webhook-timestamp and our clock
PREFIX = "whsec_"


class SignatureError(Exception):
    pass


@functools.lru_cache(maxsize=64)  # a handful of configured secrets, decoded once each
def key(secret: str) -> bytes:
    """The HMAC key of a secret, as the reference library decodes it. Raises ValueError
    (naming no part of the secret) when there is none."""
    try:
        decoded = base64.b64decode(secret.removeprefix(PREFIX) + "==")
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ValueError(f"not a Standard Webhooks secret: expected {PREFIX}<base64> (padding optional)")
    return decoded


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(key(secret), content, "sha256")  # one-shot: OpenSSL's HMAC, no objects
    return "v1," + base64.b64encode(digest).decode()


def sign_all(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def verify(
    secrets: str | tuple[str, ...],
    headers: dict[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Passes when any signature in the header was made with any of the secrets."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"webhook-timestamp is outside the {int(tolerance)}s tolerance")
    candidates = [c.encode() for c in signatures.split()]
    for secret in _keys_only((secrets,) if isinstance(secrets, str) else secrets):
        expected = sign(secret, msg_id, timestamp, body).encode()
        if any(hmac.compare_digest(c, expected) for c in candidates):
            return
    raise SignatureError("no signature matches")


def _keys_only(secrets: tuple[str, ...]) -> list[str]:
    """A source whose secret serves another scheme too (Trigger.dev's plain HMAC) may hold
    secrets that are no Standard Webhooks key: those cannot have signed anything here."""
    usable = [s for s in secrets if _is_key(s)]
    if not usable:
        raise SignatureError(f"no configured secret is a Standard Webhooks secret ({PREFIX}<base64>)")
    return usable


def _is_key(secret: str) -> bool:
    try:
        key(secret)
    except ValueError:
        return False
    return True
