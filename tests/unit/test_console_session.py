"""The console's signed values (relay/console/session.py): what passes and what does not."""

from __future__ import annotations

from datetime import timedelta

from relay.console import session
from tests.builders import T0

KEY = session.derive_key("the-admin-token")


def test_a_sealed_session_opens_until_it_expires() -> None:
    value = session.seal(KEY, session.SESSION, "n1", T0, 60)
    assert session.unseal(KEY, session.SESSION, value, T0 + timedelta(seconds=59)) == session.Signed(
        session.SESSION, "n1", int(T0.timestamp()) + 60
    )
    assert session.unseal(KEY, session.SESSION, value, T0 + timedelta(seconds=60)) is None


def test_another_kind_another_key_or_a_changed_byte_do_not_open() -> None:
    value = session.seal(KEY, session.SIGNIN, "n1", T0, 60)
    assert session.unseal(KEY, session.SESSION, value, T0) is None  # a sign-in cookie is no session
    assert session.unseal(session.derive_key("a new token"), session.SIGNIN, value, T0) is None
    kind, nonce, expires, mac = value.split(".")
    for forged in (
        f"{kind}.n2.{expires}.{mac}",
        f"{kind}.{nonce}.{int(expires) + 1}.{mac}",
        f"{kind}.{nonce}.{expires}.{mac[:-1]}0",
        "",
        "a.b.c",
        f"{kind}.{nonce}.-5.{mac}",
    ):
        assert session.unseal(KEY, session.SIGNIN, forged, T0) is None, forged
    assert session.unseal(KEY, session.SIGNIN, None, T0) is None


def test_a_csrf_token_belongs_to_one_session() -> None:
    token = session.csrf_token(KEY, "n1")
    assert session.csrf_ok(KEY, "n1", token)
    assert not session.csrf_ok(KEY, "n2", token)
    assert not session.csrf_ok(session.derive_key("other"), "n1", token)
    assert not session.csrf_ok(KEY, "n1", None)
    assert not session.csrf_ok(KEY, "n1", "")


def test_the_admin_token_compares_whole() -> None:
    assert session.token_ok("the-admin-token", "the-admin-token")
    assert not session.token_ok("the-admin-toke", "the-admin-token")
    assert not session.token_ok("", "the-admin-token")
    assert "." not in session.new_nonce()
