"""What `relay.secrets` masks: a channel URL token by token, in every spelling a receiver may
echo it back, and only the credentials of a source's base URL; innocent words stay readable."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, urlsplit

import pytest

from relay import secrets
from relay.observability import log_handler
from relay.settings import Settings


def leaks(text: str, parts: list[str]) -> list[str]:
    masked = secrets.redact(text)
    return [p for p in parts if p in masked]


@pytest.mark.parametrize(
    ("url", "parts", "readable"),
    [
        (
            "https://hooks.slack.com/services/T00FAKE00/B00FAKE00/FAKEtoken0FAKEtoken0FAKE",
            ["T00FAKE00", "B00FAKE00", "FAKEtoken0FAKEtoken0FAKE"],
            ["hooks.slack.com", "/services/"],
        ),
        (
            "https://discord.com/api/webhooks/112233445566778899/FAKE-token_FAKE-token_FAKE-token_00",
            ["112233445566778899", "FAKE-token_FAKE-token_FAKE-token_00"],
            ["discord.com", "/api/webhooks/"],
        ),
        (
            "https://acme.webhook.office.com/webhookb2/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9@"
            "9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9/IncomingWebhook/5c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f/"
            "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
            ["0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", "5c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f"],
            ["acme.webhook.office.com", "/webhookb2/", "/IncomingWebhook/"],
        ),
        (
            "slack://T11FAKE11/B11FAKE11/FAKEtoken1FAKEtoken1FAKE/#alerts",
            ["T11FAKE11", "B11FAKE11", "FAKEtoken1FAKEtoken1FAKE"],
            ["slack://", "#alerts"],
        ),
        (
            "discord://998877665544332211/Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv",
            ["998877665544332211", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv"],
            ["discord://"],
        ),
        (
            "mailtos://alerts:hunter2%2Fpw@smtp.example.com?to=team@example.com",
            ["hunter2%2Fpw", "hunter2/pw"],
            ["smtp.example.com", "team@example.com"],
        ),
        (  # an apprise URL whose host is the bot's token
            "tgram://123456789abcdef/chat-77?token=s3cr3t-value&to=team@example.com",
            ["123456789abcdef", "s3cr3t-value"],
            ["team@example.com"],
        ),
        (
            "http://127.0.0.1:8999/hooks/runs?token=short-but-secret",
            ["short-but-secret"],
            ["127.0.0.1:8999", "/hooks/runs"],
        ),
    ],
)
def test_a_channel_url_is_masked_in_every_spelling_and_only_its_secret_parts(
    url: str, parts: list[str], readable: list[str]
) -> None:
    secrets.register_url(url)
    path = urlsplit(url).path
    echoes = [url, quote(url, safe=""), quote(url), path, quote(path, safe=""), *parts]
    for echo in echoes:
        assert leaks(f"error: 400 for {echo}!", parts) == [], echo
    for word in readable:
        assert word in secrets.redact(f"posting to {word}")


def test_only_the_credentials_of_a_source_base_url_are_masked() -> None:
    secrets.register_credentials(
        "https://reader:pa55w0rd-x@runs.example.com/api/v2?api_key=k9y8x7w6&region=eu"
    )
    seen = secrets.redact("GET https://reader:pa55w0rd-x@runs.example.com/api/v2?api_key=k9y8x7w6&region=eu")
    assert seen == "GET https://***@runs.example.com/api/v2?api_key=***&region=eu"
    assert secrets.redact("pa55w0rd-x k9y8x7w6") == "*** ***"


def test_a_malformed_url_is_registered_whole_without_failing_the_load() -> None:
    secrets.register_url("http://[::1/hooks/Mf4lF0rm3dT0k3n")
    secrets.register_credentials("http://user:pw-9z8y7x6w@[::1/")
    assert secrets.redact("to http://[::1/hooks/Mf4lF0rm3dT0k3n") == "to ***"


def test_a_url_without_credentials_registers_nothing() -> None:
    secrets.register_credentials("http://127.0.0.1:9477/api/v2024-11")
    secrets.register_url("http://127.0.0.1:9477/v2024/abc")
    assert secrets.redact("http://127.0.0.1:9477/api/v2024-11") == "http://127.0.0.1:9477/api/v2024-11"


@pytest.mark.parametrize(
    ("piece", "token"),
    [
        ("services", False),
        ("webhooks", False),
        ("IncomingWebhook", False),
        ("webhookb2", False),
        ("runs-completed-webhook", False),
        ("T00FAKE00", True),
        ("112233445566778899", True),
        ("XXXXXXXXXXXXXXXXXXXXXXXX", True),  # Slack's documented placeholder token
        ("Vq8LmN2pR4sTuWxYzAbC", True),
    ],
)
def test_what_looks_like_a_token(piece: str, token: bool) -> None:
    assert secrets.looks_like_token(piece) is token


def test_a_logged_traceback_is_masked_too() -> None:
    secrets.register("tb-secret-0f9e8d7c")
    stream = io.StringIO()
    logger = logging.getLogger("tests.secrets.traceback")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    try:
        raise ValueError("cannot reach https://example.com/?k=tb-secret-0f9e8d7c")
    except ValueError:
        logger.exception("delivery_crashed url=%s", "https://example.com/?k=tb-secret-0f9e8d7c")
    finally:
        logger.handlers.clear()
    written = stream.getvalue()
    assert "ValueError: cannot reach" in written and "delivery_crashed" in written
    assert "tb-secret-0f9e8d7c" not in written


def test_settings_read_from_the_environment_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "adm-7f6e5d4c3b")
    monkeypatch.setenv("RELAY_DATABASE_URL", "postgresql://relay:Db-1a2b3c4d@db.internal/relay")
    Settings.from_env()
    shown = secrets.redact("token adm-7f6e5d4c3b, database postgresql://relay:Db-1a2b3c4d@db.internal/relay")
    assert shown == "token ***, database postgresql://***@db.internal/relay"
