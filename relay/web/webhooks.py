"""POST /hooks/{source}: run updates pushed to the relay.

Checks run cheapest first and nothing is stored unless all pass: known and enabled source,
body size and time (web/bodies.py), signature (the source kind's scheme, Standard Webhooks by
default, when the source has a webhook_secret; without one, only loopback clients are
accepted), JSON the store can hold (relay/jsonin.py), shape and ranges (the kind's parser).
Accepted means durably stored: the answer comes after the transaction that holds the
transition and its deliveries has committed.
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay import jsonin
from relay import observability as obs
from relay.config import SourceConfig
from relay.errors import BadJson, IngestError, SourceError
from relay.models import Snapshot
from relay.service import Relay
from relay.signing import SignatureError
from relay.sources.registry import kind_of
from relay.web.bodies import read_body
from relay.web.responses import error

log = logging.getLogger("relay.web")


async def receive(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    name = request.path_params["source"]
    if not relay.settings.ingest:  # --role without ingest: the load balancer sends elsewhere
        return error(503, "this relay process does not ingest (--role); send updates to one that does")
    try:
        source = relay.ruleset.sources.get(name)
        if source is None:
            raise IngestError(404, f"unknown source {name!r}")
        if not source.enabled:
            raise IngestError(403, f"source {name!r} is disabled")
        body = await read_body(request, relay.settings.max_body_bytes, relay.settings.client_timeout)
        _authenticate(request, source, body)
        snapshots, replay_key = _parse(body, source)
    except IngestError as exc:
        # the path is the client's: only a configured name may become a label value
        label = name if name in relay.ruleset.sources else "unknown"
        obs.REJECTED.labels(label, str(exc.status)).inc()
        return error(exc.status, exc.message)
    decisions = await relay.pipeline.ingest_many(snapshots)
    # marked once taken, never before: a push marked and then lost to a crash would be ignored
    # when the platform retries it. Taking a replay again is harmless (the stored state absorbs it)
    if replay_key and not await relay.store.first_sight(name, replay_key, relay.clock.now()):
        log.warning("push_replayed source=%s key=%s (ignored)", name, replay_key)
        decisions, snapshots = [], []
    return JSONResponse(
        {
            "accepted": len(snapshots),
            "transitions": sum(1 for d in decisions if d.transition),
            "deliveries": sum(len(d.deliveries) for d in decisions),
        },
        status_code=202,
    )


def _authenticate(request: Request, source: SourceConfig, body: bytes) -> None:
    if source.webhook_secrets:
        try:
            kind_of(source.kind).authenticate(source, request.headers, body)
        except SignatureError as exc:
            raise IngestError(401, f"signature rejected: {exc}") from exc
        return
    host = request.client.host if request.client else ""
    if not _is_loopback(host):
        raise IngestError(
            401,
            f"source {source.name!r} has no webhook_secret: unsigned updates are accepted from loopback only",
        )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(body: bytes, source: SourceConfig) -> tuple[list[Snapshot], str | None]:
    """The body's snapshots, and its replay key if its platform gives pushes one."""
    try:
        data = jsonin.loads(body)
    except BadJson as exc:
        raise IngestError(400, str(exc)) from exc
    kind = kind_of(source.kind)
    try:
        snapshots = kind.parse_webhook(data, source)
    except SourceError as exc:
        raise IngestError(422, str(exc)) from exc
    return snapshots, kind.push_key(data, snapshots)
