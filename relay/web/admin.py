"""The admin API, behind `Authorization: Bearer $RELAY_ADMIN_TOKEN` (off when it is unset).

Every parameter and body is checked before anything is read or written: a body that is not
JSON is a 400, a value of the wrong type or out of range a 422 naming it. The shapes are
those of docs/openapi.json (relay/web/openapi.py).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay import jsonin
from relay.clock import parse_time
from relay.durations import parse_duration
from relay.errors import BadJson, ConfigError, IngestError
from relay.models import Attempt, Delivery, DeliveryStatus, RunState, Transition
from relay.preview import PreviewError, run_for_preview
from relay.preview import preview as render_preview
from relay.render.payload import iso
from relay.secrets import redact
from relay.service import Relay
from relay.silences import Silence, new_silence, silence_json
from relay.web.bodies import read_body
from relay.web.params import nul_in
from relay.web.responses import error

MAX_LIMIT = 1000
MAX_SILENCE = timedelta(days=365)
SILENCE_FIELDS = {"matchers", "duration", "ends_at", "starts_at", "comment", "created_by"}
PREVIEW_FIELDS = {"rule", "source", "run", "run_id"}
Handler = Callable[[Request, Relay], Awaitable[Response]]


class Invalid(ValueError):
    """A parameter or body field the API cannot use: answered 422 with this message."""


def endpoint(*query: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Authorization, the query parameters (only those named), then the handler; bad input
    becomes its 4xx answer."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            if denied := _authorized(request):
                return denied
            if (where := nul_in(request)) == "path":
                return error(404, "no such item: no id or name holds a NUL character")
            try:
                if where == "query":
                    raise Invalid("a query parameter holds a NUL character")
                _only(request, query)
                return await handler(request, request.app.state.relay)
            except IngestError as exc:  # the body itself: too large, too slow
                return error(exc.status, exc.message)
            except BadJson as exc:
                return error(400, str(exc))
            except Invalid as exc:
                return error(422, str(exc))

        return run

    return wrap


def _only(request: Request, names: tuple[str, ...]) -> None:
    """A misspelt filter must not silently list everything."""
    unknown = sorted(set(request.query_params) - set(names))
    if unknown:
        expected = ", ".join(names) or "none"
        raise Invalid(f"unknown query parameter {unknown[0][:40]!r} (expected: {expected})")


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
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_LIMIT):
        raise Invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:20]!r}")
    return int(raw)


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("1", "true", "0", "false"):
        raise Invalid(f"{name} must be true or false, got {raw[:20]!r}")
    return raw in ("1", "true")


async def _json_object(request: Request, relay: Relay, fields: set[str]) -> dict[str, Any]:
    raw = await read_body(request, relay.settings.max_body_bytes, relay.settings.client_timeout)
    body = jsonin.loads(raw)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise Invalid(f"unknown field {unknown[0][:40]!r} (expected: {', '.join(sorted(fields))})")
    return body


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    return value


@endpoint("source", "limit")
async def runs(request: Request, relay: Relay) -> Response:
    found = await relay.store.runs(request.query_params.get("source"), _limit(request))
    return JSONResponse({"runs": [_run(s) for s in found]})


@endpoint()
async def sources(request: Request, relay: Relay) -> Response:
    status, leaders = relay.source_status(), await relay.leaders()
    for name, shown in status.items():
        shown["leader"] = leaders.get(name)  # the replica polling it, whichever answers here
    return JSONResponse({"sources": status})


@endpoint("limit")
async def transitions(request: Request, relay: Relay) -> Response:
    found = await relay.store.transitions(_limit(request))
    return JSONResponse({"transitions": [_transition(t) for t in found]})


@endpoint("status", "limit")
async def deliveries(request: Request, relay: Relay) -> Response:
    raw = request.query_params.get("status")
    try:
        status = DeliveryStatus(raw) if raw is not None else None
    except ValueError:
        choices = ", ".join(s.value for s in DeliveryStatus)
        raise Invalid(f"unknown status {str(raw)[:40]!r} (expected one of: {choices})") from None
    found = await relay.store.deliveries(status, _limit(request))
    return JSONResponse({"deliveries": [delivery_json(d) for d in found]})


@endpoint()
async def delivery(request: Request, relay: Relay) -> Response:
    found = await relay.store.delivery(request.path_params["id"])
    if found is None:
        return error(404, "unknown delivery")
    attempts = await relay.store.attempts(found.id)
    return JSONResponse({**delivery_json(found), "attempt_log": [attempt_json(a) for a in attempts]})


@endpoint()
async def replay(request: Request, relay: Relay) -> Response:
    if not await relay.replay(request.path_params["id"]):
        return error(404, "no dead or sent delivery with this id")
    return JSONResponse({"replayed": request.path_params["id"]}, status_code=202)


@endpoint()
async def reload(request: Request, relay: Relay) -> Response:
    """Re-read rules.yaml (as SIGHUP does). 200 with what changed; 422 with the file's error
    (file and line), the configuration in force staying as it was."""
    try:
        changes = await relay.reload()
    except ConfigError as exc:
        return error(422, redact(str(exc)), file=exc.file, line=exc.line)
    except RuntimeError as exc:  # a reload asked for while the relay shuts down
        return error(503, str(exc))
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


@endpoint()
async def preview(request: Request, relay: Relay) -> Response:
    """POST {"rule": ..., "source"?: ..., "run": {a platform run object}} or {"run_id": ...}."""
    body = await _json_object(request, relay, PREVIEW_FIELDS)
    rule, source, run_id = _text(body, "rule"), _text(body, "source"), _text(body, "run_id")
    run = body.get("run")
    if rule is None or (run is None) == (run_id is None):
        raise Invalid('expected {"rule": NAME, "run": {...}} or {"rule": NAME, "run_id": ID}')
    if run is not None and not isinstance(run, dict):
        raise Invalid("run must be a run object")
    try:
        snapshot = await run_for_preview(relay.ruleset, relay.store, source, run, run_id)
        now = relay.clock.now()
        silences = await relay.store.silences(now)
        return JSONResponse(render_preview(relay.ruleset, rule, snapshot, silences, now))
    except PreviewError as exc:
        return error(422, str(exc))


@endpoint("all")
async def silences(request: Request, relay: Relay) -> Response:
    """GET: the silences not yet ended (?all=true: every one). POST: create one."""
    now = relay.clock.now()
    if request.method == "GET":
        found = await relay.store.silences(None if _flag(request, "all") else now)
        return JSONResponse({"silences": [silence_json(s, now) for s in found]})
    silence = _silence_from(await _json_object(request, relay, SILENCE_FIELDS), now)
    await relay.add_silence(silence)
    return JSONResponse(silence_json(silence, now), status_code=201)


@endpoint()
async def expire_silence(request: Request, relay: Relay) -> Response:
    if not await relay.expire_silence(request.path_params["id"]):
        return error(404, "no active silence with this id")
    return JSONResponse({"expired": request.path_params["id"]})


def _silence_from(body: dict[str, Any], now: datetime) -> Silence:
    """{"matchers": {...}, "duration": "2h" | "ends_at": ISO, "starts_at"?: ISO, "comment"?, "created_by"?}"""
    if not isinstance(body.get("matchers"), dict):
        raise Invalid('expected {"matchers": {"task": "create-*"}, "duration": "2h"}')
    starts = _time(body, "starts_at") or now
    ends = _time(body, "ends_at")
    if ends is None:
        ends = starts + _duration(body.get("duration"))
    elif "duration" in body:
        raise Invalid('give a "duration" or an "ends_at" time, not both')
    if ends - now > MAX_SILENCE:
        raise Invalid(f"a silence ends at most {MAX_SILENCE.days} days from now")
    comment, created_by = _text(body, "comment", "") or "", _text(body, "created_by", "") or ""
    try:
        return new_silence(body["matchers"], starts, ends, comment, created_by)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _time(body: dict[str, Any], key: str) -> datetime | None:
    text = _text(body, key)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise Invalid(f"{key} is {exc}: {text[:40]!r}") from None


def _duration(value: object) -> timedelta:
    if value is None:
        raise Invalid('give a "duration" (e.g. "2h") or an "ends_at" time')
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Invalid(f"duration must be like 2h or a number of seconds, got {type(value).__name__}")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise Invalid(str(exc)[:120]) from None
    if not 0 < seconds <= MAX_SILENCE.total_seconds():
        raise Invalid(f"duration must be more than 0 and at most {MAX_SILENCE.days}d")
    return timedelta(seconds=seconds)


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
