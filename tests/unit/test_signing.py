import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from relay.signing import SignatureError, key, sign, sign_all, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def headers(body: bytes, ts: int = 1_000_000, secret: str = SECRET) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, "msg_1", ts, body),
    }


def test_the_signed_content_is_id_timestamp_and_body_as_the_spec_says() -> None:
    # the spec's construction, computed by hand: HMAC-SHA256 of "<id>.<timestamp>.<body>" with
    # the decoded key, base64, after "v1,"; the key is a placeholder, not a real secret
    raw = b"placeholder-signing-key"
    body = b'{"test": 2432232314}'
    content = b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body
    expected = "v1," + base64.b64encode(hmac.new(raw, content, hashlib.sha256).digest()).decode()
    secret = "whsec_" + base64.b64encode(raw).decode()
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_valid_signature_passes_and_any_of_several_may_match() -> None:
    body = b'{"a":1}'
    h = headers(body)
    verify(SECRET, h, body, now=1_000_010)
    h["webhook-signature"] = "v1,bogus " + h["webhook-signature"]
    verify(SECRET, h, body, now=1_000_010)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, b: (h, b + b" "), "no signature matches"),
        (lambda h, b: ({**h, "webhook-timestamp": "999000"}, b), "tolerance"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "not an integer"),
    ],
)
def test_tampering_is_rejected(change, message) -> None:  # type: ignore[no-untyped-def]
    body = b'{"a":1}'
    h, b = change(headers(body), body)
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, h, b, now=1_000_010)


# -- the secret, read as the reference library (PyPI standardwebhooks) reads it ------------------

RAW = b"rotation-key-\x00\xff-of-31-bytes-long"  # base64 of 31 bytes needs one '=' of padding
PADDED = base64.b64encode(RAW).decode()
FORMS = {
    "whsec_ and padding": "whsec_" + PADDED,
    "whsec_ without padding": "whsec_" + PADDED.rstrip("="),
    "bare base64": PADDED,
    "bare without padding": PADDED.rstrip("="),
}


@pytest.mark.parametrize("secret", FORMS.values(), ids=FORMS.keys())
def test_every_form_of_a_secret_is_the_same_key_as_in_the_reference(secret: str) -> None:
    assert PADDED.endswith("=")  # else the unpadded forms would test nothing
    body, ts = b'{"a":"\xc3\xa9"}', int(time.time())
    mine = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, "msg_1", ts, body),
    }
    assert Webhook(secret).verify(body, mine) == {"a": "é"}
    theirs = Webhook(secret).sign("msg_1", datetime.fromtimestamp(ts, UTC), body.decode())
    for form in FORMS.values():  # and a signature made with one form verifies with any other
        verify(form, {**mine, "webhook-signature": theirs}, body, now=ts)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_abcde", "abcde", "=====", "sécret-clé"])
def test_a_secret_the_reference_refuses_is_no_key_here_either(secret: str) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011  (binascii.Error, its own error, ValueError)
        Webhook(secret)
    with pytest.raises(ValueError, match="not a Standard Webhooks secret"):
        key(secret)


def test_rotation_one_signature_per_secret_and_any_secret_verifies() -> None:
    old, new = (
        "whsec_" + base64.b64encode(b"old-key").decode(),
        "whsec_" + base64.b64encode(b"new-key").decode(),
    )
    body, ts = b'{"a":1}', int(time.time())
    h = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_all((old, new), "msg_1", ts, body),
    }
    assert h["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        Webhook(secret).verify(body, h)
        verify(secret, h, body, now=ts)
    verify((SECRET, new), {**h, "webhook-signature": sign(new, "msg_1", ts, body)}, body, now=ts)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify((SECRET,), h, body, now=ts)


def test_secrets_of_another_scheme_are_skipped_and_alone_are_refused() -> None:
    body = b'{"a":1}'
    verify(("abcde", SECRET), headers(body), body, now=1_000_010)
    with pytest.raises(SignatureError, match="no configured secret is a Standard Webhooks secret"):
        verify(("abcde",), headers(body), body, now=1_000_010)
