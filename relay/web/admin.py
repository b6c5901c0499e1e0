"""The admin API, behind `Authorization: Bearer $RELAY_ADMIN_TOKEN` (off when it is unset)."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.durations import parse_duration
from relay.errors import ConfigError
from relay.models import Attempt, Delivery, DeliveryStatus, RunState, Transition
from relay.payload import iso
from relay.preview import PreviewError, run_for_preview
from relay.preview import preview as render_preview
from relay.secrets import redact
from relay.service import Relay
from relay.silences import Silence, new_silence, silence_json
from relay.web.responses import error

MAX_LIMIT = 1000


def _authorized(request: Request) -> Response | None:
    token = request.app.state.relay.settings.admin_token
    if not token:
        return error(403, "the admin API is disabled: set RELAY_ADMIN_TOKEN to enable it")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return error(401, "missing or wrong bearer token")
    return None


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    return max(1, min(MAX_LIMIT, int(raw))) if raw.isdigit() else 100


async def runs(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    found = await relay.store.runs(request.query_params.get("source"), _limit(request))
    return JSONResponse({"runs": [_run(s) for s in found]})


async def sources(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    return JSONResponse({"sources": relay.source_status()})


async def transitions(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    return JSONResponse(
        {"transitions": [_transition(t) for t in await relay.store.transitions(_limit(request))]}
    )


async def deliveries(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    raw = request.query_params.get("status")
    try:
        status = DeliveryStatus(raw) if raw else None
    except ValueError:
        choices = ", ".join(s.value for s in DeliveryStatus)
        return error(400, f"unknown status {raw!r} (expected one of: {choices})")
    found = await relay.store.deliveries(status, _limit(request))
    return JSONResponse({"deliveries": [delivery_json(d) for d in found]})


async def delivery(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    found = await relay.store.delivery(request.path_params["id"])
    if found is None:
        return error(404, "unknown delivery")
    attempts = await relay.store.attempts(found.id)
    return JSONResponse({**delivery_json(found), "attempt_log": [attempt_json(a) for a in attempts]})


async def replay(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    if not await relay.replay(request.path_params["id"]):
        return error(404, "no dead or sent delivery with this id")
    return JSONResponse({"replayed": request.path_params["id"]}, status_code=202)


async def reload(request: Request) -> Response:
    """Re-read rules.yaml (as SIGHUP does). 200 with what changed; 422 with the file's error
    (file and line), the configuration in force staying as it was."""
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    try:
        changes = await relay.reload()
    except ConfigError as exc:
        return error(422, redact(str(exc)), file=exc.file, line=exc.line)
    ruleset = relay.ruleset
    return JSONResponse(
        {
            "reloaded": ruleset.path,
            "sources": len(ruleset.sources),
            "channels": len(ruleset.channels),
            "rules": len(ruleset.rules),
            "changes": changes.as_json(),
        }
    )


async def preview(request: Request) -> Response:
    """POST {"rule": ..., "source"?: ..., "run": {a platform run object}} or {"run_id": ...}."""
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    try:
        body = await request.json()
    except ValueError:
        return error(400, "malformed JSON")
    if not isinstance(body, dict) or not isinstance(body.get("rule"), str):
        return error(400, 'expected {"rule": NAME, "run": {...}} or {"rule": NAME, "run_id": ID}')
    try:
        run = await run_for_preview(
            relay.ruleset, relay.store, body.get("source"), body.get("run"), body.get("run_id")
        )
        return JSONResponse(render_preview(relay.ruleset, body["rule"], run))
    except PreviewError as exc:
        return error(422, str(exc))


async def silences(request: Request) -> Response:
    """GET: the silences not yet ended (?all=1: every one). POST: create one."""
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    now = relay.clock.now()
    if request.method == "GET":
        found = await relay.store.silences(None if request.query_params.get("all") else now)
        return JSONResponse({"silences": [silence_json(s, now) for s in found]})
    try:
        body = await request.json()
        silence = _silence_from(body, now)
    except ValueError as exc:
        return error(400, f"invalid silence: {exc}")
    await relay.add_silence(silence)
    return JSONResponse(silence_json(silence, now), status_code=201)


async def expire_silence(request: Request) -> Response:
    if denied := _authorized(request):
        return denied
    relay: Relay = request.app.state.relay
    if not await relay.expire_silence(request.path_params["id"]):
        return error(404, "no active silence with this id")
    return JSONResponse({"expired": request.path_params["id"]})


def _silence_from(body: object, now: datetime) -> Silence:
    """{"matchers": {...}, "duration": "2h" | "ends_at": ISO, "starts_at"?: ISO, "comment"?, "created_by"?}"""
    if not isinstance(body, dict) or not isinstance(body.get("matchers"), dict):
        raise ValueError('expected {"matchers": {"task": "create-*"}, "duration": "2h"}')
    starts = (
        datetime.fromisoformat(body["starts_at"].replace("Z", "+00:00")) if body.get("starts_at") else now
    )
    if body.get("ends_at"):
        ends = datetime.fromisoformat(str(body["ends_at"]).replace("Z", "+00:00"))
    elif not body.get("duration"):
        raise ValueError('give a "duration" (e.g. "2h") or an "ends_at" time')
    else:
        ends = starts + timedelta(seconds=parse_duration(body.get("duration", "")))
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("times need a time zone (e.g. 2026-11-25T18:00:00Z)")
    return new_silence(
        body["matchers"], starts, ends, str(body.get("comment", "")), str(body.get("created_by", ""))
    )


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "rule": d.rule,
        "channel": d.channel,
        "status": d.status.value,
        "idempotency_key": d.idempotency_key,
        "attempts": d.attempts,
        "rounds": d.rounds,
        "next_attempt_at": iso(d.next_attempt_at),
        "created_at": iso(d.created_at),
        "last_error": d.last_error,
        "template_error": d.template_error,
        "transition_id": d.transition_id,
        "message": {"title": d.message.title, "body": d.message.body},
    }


def attempt_json(a: Attempt) -> dict[str, Any]:
    return {**asdict(a), "started_at": iso(a.started_at)}


def _run(state: RunState) -> dict[str, Any]:
    s = state.snapshot
    return {
        "source": s.source,
        "id": s.run_id,
        "task": s.task,
        "status": s.status,
        "phase": s.phase.value,
        "terminal": s.terminal,
        "updated_at": iso(s.updated_at),
        "first_seen_at": iso(state.first_seen_at),
        "url": s.url,
    }


def _transition(t: Transition) -> dict[str, Any]:
    return {
        "id": t.id,
        "source": t.source,
        "run_id": t.run_id,
        "from_phase": t.from_phase.value if t.from_phase else None,
        "to_phase": t.to_phase.value,
        "from_status": t.from_status,
        "to_status": t.to_status,
        "observed_at": iso(t.observed_at),
        "via": t.via.value,
        "backfill": t.backfill,
    }
