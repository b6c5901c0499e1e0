import base64

import pytest

from relay.signing import SignatureError, sign, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def headers(body: bytes, ts: int = 1_000_000, secret: str = SECRET) -> dict[str, str]:
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, "msg_1", ts, body),
    }


def test_known_vector_from_the_standard_webhooks_spec() -> None:
    # the example in the Standard Webhooks specification
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


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
