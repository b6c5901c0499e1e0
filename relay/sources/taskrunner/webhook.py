"""Pushes to a RunWisp source: a run object, `{run, error}` (an SSE event's data),
`{runs: [...]}`, or the payload of RunWisp's own `type = "webhook"` notifier. RunWisp signs
nothing: with a `webhook_secret` the request must carry `Authorization: Bearer
<webhook_secret>` (set it in the notifier's `headers`; any of the source's secrets while
they rotate)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from relay.config import SourceConfig
from relay.errors import SourceError
from relay.models import Snapshot
from relay.signing import SignatureError
from relay.sources.taskrunner.options import TaskRunnerOptions
from relay.sources.taskrunner.parse import parse_webhook_body


def bearer_token(config: SourceConfig, headers: Mapping[str, str], body: bytes) -> None:
    got = next((v for k, v in headers.items() if k.lower() == "authorization"), "").encode()
    if not any(hmac.compare_digest(got, f"Bearer {s}".encode()) for s in config.webhook_secrets):
        raise SignatureError("expected the header Authorization: Bearer <the source's webhook_secret>")


def parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    try:
        options = TaskRunnerOptions.of(config)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    return parse_webhook_body(
        body, source=config.name, external_url=options.external_url, run_url=config.run_url
    )
