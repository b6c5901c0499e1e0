"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways.

signed content = f"{webhook-id}.{webhook-timestamp}.{body}"; signature = base64(HMAC-SHA256);
header `webhook-signature: v1,<sig> [v1,<sig2> ...]`; a secret `whsec_<base64>` is the
base64-decoded key, any other string is used as UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac

DEFAULT_TOLERANCE = 300.0  # seconds between webhook-timestamp and our clock


class SignatureError(Exception):
    pass


@functools.lru_cache(maxsize=64)  # a handful of configured secrets, decoded once each
def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.digest(_key(secret), content, "sha256")  # one-shot: OpenSSL's HMAC, no objects
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
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
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("no signature matches")
