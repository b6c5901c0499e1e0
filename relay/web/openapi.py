"""The relay's OpenAPI document: served at GET /openapi.json, kept in docs/openapi.json.

This module is the one source: `python -m relay.web.openapi > docs/openapi.json` rewrites the
file, and a test fails when the two differ or when a route of web/routes.py is missing here.
One entry of PATHS per path, in the order of the route table.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.models import DeliveryStatus, Phase
from relay.silences import MATCHER_KEYS

JSON = "application/json"
Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str] | None = None, **properties: Schema) -> Schema:
    """A closed object: every property named, `required` (default: all of them) present."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
    }


def _named(schema: str) -> Schema:
    """An object whose every value is a `schema`, by name (sources by their names)."""
    return {"type": "object", "additionalProperties": _ref(schema)}


def _answers(*statuses: int, ok: tuple[int, Schema] | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if ok is not None:
        answers[str(ok[0])] = {"description": "done", "content": {JSON: {"schema": ok[1]}}}
    for status in statuses:
        answers[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return answers


TEXT, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NULLABLE_TEXT = {"type": ["string", "null"]}
NAMES = {"type": "array", "items": TEXT}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ADMIN = (401, 403)  # no or a wrong token; no token configured
BODY = (400, 408, 413)  # not JSON; sent too slowly; too large
LIMIT = {
    "name": "limit",
    "in": "query",
    "description": "how many, newest first",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
}
ID = {"name": "id", "in": "path", "required": True, "schema": TEXT}
RUN_EXAMPLE = {
    "id": "run_demo_1",
    "taskIdentifier": "create-content",
    "status": "COMPLETED",
    "updatedAt": "2026-11-25T09:02:00Z",
    "output": {"videoSourceUrl": "https://v3.fal.media/files/demo/final.mp4"},
}

SCHEMAS: dict[str, Schema] = {
    "Error": _object(error=TEXT),
    "ReloadRefused": _object(error=TEXT, file=NULLABLE_TEXT, line={"type": ["integer", "null"]}),
    "Reloaded": _object(
        reloaded=TEXT,
        sources=INT,
        channels=INT,
        rules=INT,
        changes=_object(channels=_ref("Changes"), sources=_ref("Changes")),
    ),
    "Changes": _object(added=NAMES, removed=NAMES, changed=NAMES),
    "Accepted": _object(accepted=INT, transitions=INT, deliveries=INT),
    "SourceStatus": _object(
        kind=TEXT,
        enabled=BOOL,
        polling=BOOL,
        last_success_at=NULLABLE_TIME,
        last_error_at=NULLABLE_TIME,
        last_error=NULLABLE_TEXT,
        consecutive_failures=INT,
        last_snapshot_at=NULLABLE_TIME,
        lag_seconds={"type": ["number", "null"]},
        leader=NULLABLE_TEXT,  # the replica that polls it now (its leader lease), none if nobody
    ),
    # what /readyz shows anyone (relay.web.health.PUBLIC_SOURCE_FIELDS): no error text, no URL
    "PublicSourceStatus": _object(kind=TEXT, enabled=BOOL, polling=BOOL, consecutive_failures=INT),
    "Run": _object(
        source=TEXT,
        id=TEXT,
        task=TEXT,
        status=TEXT,
        phase={"enum": [p.value for p in Phase]},
        terminal=BOOL,
        updated_at=TIME,
        first_seen_at=TIME,
        url=NULLABLE_TEXT,
    ),
    "Transition": _object(
        id=TEXT,
        source=TEXT,
        run_id=TEXT,
        from_phase={"enum": [*(p.value for p in Phase), None]},
        to_phase={"enum": [p.value for p in Phase]},
        from_status=NULLABLE_TEXT,
        to_status=TEXT,
        observed_at=TIME,
        via={"enum": ["poll", "webhook"]},
        backfill=BOOL,
    ),
    "Delivery": _object(
        id=TEXT,
        rule=TEXT,
        channel=TEXT,
        status={"enum": [s.value for s in DeliveryStatus]},
        idempotency_key=TEXT,
        attempts=INT,
        rounds=INT,
        next_attempt_at=NULLABLE_TIME,
        created_at=TIME,
        last_error=NULLABLE_TEXT,
        template_error=NULLABLE_TEXT,
        transition_id=NULLABLE_TEXT,
        message=_object(title=TEXT, body=TEXT),
    ),
    "Attempt": _object(
        delivery_id=TEXT,
        n=INT,
        started_at=TIME,
        latency_ms={"type": "number"},
        ok=BOOL,
        http_status={"type": ["integer", "null"]},
        reason=NULLABLE_TEXT,
        excerpt=NULLABLE_TEXT,
    ),
    "Silence": _object(
        id=TEXT,
        matchers={"type": "object", "additionalProperties": TEXT},
        starts_at=TIME,
        ends_at=TIME,
        comment=TEXT,
        created_by=TEXT,
        active=BOOL,
    ),
    "SuppressedCount": _object(
        rule=TEXT,
        channel=TEXT,
        reason={"enum": ["group_window", "quiet_hours", "rate_limit", "once_per", "silence"]},
        label={**TEXT, "description": "the reason as messages name it, e.g. rate limit"},
        count={"type": "integer", "minimum": 1},
        since={**TIME, "description": "the earliest of them (UTC)"},
        held={
            **BOOL,
            "description": "true: waiting to go out as one grouped message; false: never sent, "
            "counted by the next message of the rule and channel",
        },
    ),
    "NewSilence": _object(
        ["matchers"],
        matchers={
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"enum": list(MATCHER_KEYS)},
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        duration={
            "description": "e.g. 2h, 30m, 1d or seconds; more than 0, at most 365d (or give ends_at)",
            "type": ["string", "number"],
        },
        ends_at=TIME,
        starts_at=TIME,
        comment=TEXT,
        created_by=TEXT,
    ),
    "Verdict": _object(
        rule=TEXT,
        matches={"type": "boolean", "description": "the rule would notify"},
        why_not=NULLABLE_TEXT,
        silenced={"type": "object", "additionalProperties": TEXT, "description": "channel -> why"},
    ),
    "BacktestRequest": _object(
        ["rules"],
        rules={"type": "string", "description": "the candidate rules.yaml"},
        since={"type": "string", "description": "how far back, e.g. 7d (default), 12h; at most 365d"},
    ),
    "Backtest": _object(
        since=TIME,
        transitions={"type": "integer", "description": "transitions scanned"},
        limit={"type": "integer", "description": "at most this many transitions are scanned"},
        truncated={"type": "boolean", "description": "there were more than `limit`: the oldest were scanned"},
        first=NULLABLE_TIME,
        last=NULLABLE_TIME,
        rules={"type": "array", "items": _ref("BacktestRow")},
        runs=_object(
            notified=INT,
            notified_in_force=INT,
            newly_notified=_ref("BacktestRuns"),
            no_longer_notified=_ref("BacktestRuns"),
        ),
    ),
    "BacktestRow": _object(
        rule=TEXT,
        channel=TEXT,
        in_candidate=BOOL,
        in_force=BOOL,
        messages=INT,
        silenced=INT,
        digest_items=INT,
        runs=INT,
        messages_in_force=INT,
        newly_notified=_ref("BacktestRuns"),
        no_longer_notified=_ref("BacktestRuns"),
        examples={"type": "array", "items": {"type": "object"}},
    ),
    "BacktestRuns": _object(
        count=INT,
        runs={"type": "array", "items": _object(source=TEXT, id=TEXT, task=TEXT)},
    ),
    "PreviewRequest": _object(
        ["rule"],
        rule=TEXT,
        source=TEXT,
        run={"type": "object", "description": "a platform's run object", "example": RUN_EXAMPLE},
        run_id=TEXT,
    ),
    "Preview": {
        "type": "object",
        "required": ["rule", "matches", "why_not", "rules", "run", "channels"],
        "properties": {
            "rule": TEXT,
            "matches": BOOL,
            "why_not": {
                "type": ["string", "null"],
                "description": "null when the rule would notify; else the first reason it would not",
            },
            "rules": {"type": "array", "items": _ref("Verdict")},
            "run": _object(source=TEXT, id=TEXT, task=TEXT, status=TEXT),
            "channels": {"type": "object", "additionalProperties": {"type": "object"}},
        },
    },
}

WHY = {
    400: "malformed JSON, or JSON the relay cannot hold",
    401: "signature rejected, or missing/wrong bearer token",
    403: "disabled (source, or the admin API without RELAY_ADMIN_TOKEN)",
    404: "not found",
    408: "the body took longer than RELAY_CLIENT_TIMEOUT",
    413: "the body is larger than RELAY_MAX_BODY_BYTES",
    422: "a value the relay cannot use (the message names it)",
    503: "the relay is shutting down",
}


def _get(summary: str, ok: Schema, *errors: int, parameters: list[Schema] | None = None) -> Schema:
    return {"summary": summary, "parameters": parameters or [], "responses": _answers(*errors, ok=(200, ok))}


def _admin(operation: Schema) -> Schema:
    return {**operation, "security": [{"bearer": []}]}


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _list(key: str, item: str) -> Schema:
    properties: dict[str, Schema] = {key: {"type": "array", "items": _ref(item)}}
    return _object(None, **properties)


PATHS: dict[str, Any] = {
    "/healthz": {"get": _get("alive", _object(status={"const": "ok"}))},
    "/readyz": {
        "get": {
            "summary": "the store answers a read and takes a write; the sources and whether they poll",
            "responses": {
                "200": {
                    "description": "ready",
                    "content": {
                        JSON: {
                            "schema": _object(
                                status={"const": "ready"},
                                sources=_named("PublicSourceStatus"),
                            )
                        }
                    },
                },
                "503": {
                    "description": "the store does not answer",
                    "content": {JSON: {"schema": _object(status={"const": "unavailable"}, reason=TEXT)}},
                },
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "text format", "content": {"text/plain": {"schema": TEXT}}}},
        }
    },
    "/openapi.json": {"get": _get("this document", {"type": "object"})},
    "/hooks/{source}": {
        "post": {
            "summary": "run updates: a platform's run object, {runs: [...]} or the source kind's own shape",
            "parameters": [{"name": "source", "in": "path", "required": True, "schema": TEXT}],
            "requestBody": _body({"type": "object", "example": RUN_EXAMPLE}),
            "responses": _answers(*BODY, 401, 403, 404, 422, ok=(202, _ref("Accepted"))),
        }
    },
    "/admin/sources": {
        "get": _admin(
            _get(
                "every source's health",
                _object(sources=_named("SourceStatus")),
                *ADMIN,
            )
        )
    },
    "/admin/runs": {
        "get": _admin(
            _get(
                "runs, latest update first",
                _list("runs", "Run"),
                *ADMIN,
                422,
                parameters=[{"name": "source", "in": "query", "schema": TEXT}, LIMIT],
            )
        )
    },
    "/admin/transitions": {
        "get": _admin(
            _get(
                "transitions, newest first",
                _list("transitions", "Transition"),
                *ADMIN,
                422,
                parameters=[LIMIT],
            )
        )
    },
    "/admin/deliveries": {
        "get": _admin(
            _get(
                "deliveries, newest first",
                _list("deliveries", "Delivery"),
                *ADMIN,
                422,
                parameters=[
                    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in DeliveryStatus]}},
                    LIMIT,
                ],
            )
        )
    },
    "/admin/deliveries/{id}": {
        "get": _admin(
            _get(
                "one delivery with every attempt",
                {
                    "allOf": [
                        _ref("Delivery"),
                        {"properties": {"attempt_log": {"type": "array", "items": _ref("Attempt")}}},
                    ]
                },
                *ADMIN,
                404,
                parameters=[ID],
            )
        )
    },
    "/admin/deliveries/{id}/replay": {
        "post": _admin(
            {
                "summary": "send a dead (or sent) delivery again",
                "parameters": [ID],
                "responses": _answers(*ADMIN, 404, ok=(202, _object(replayed=TEXT))),
            }
        )
    },
    "/admin/preview": {
        "post": _admin(
            {
                "summary": "what each channel of a rule would receive for a run (nothing is sent)",
                "requestBody": _body(_ref("PreviewRequest")),
                "responses": _answers(*ADMIN, *BODY, 422, ok=(200, _ref("Preview"))),
            }
        )
    },
    "/admin/backtest": {
        "post": _admin(
            {
                "summary": "a candidate rules.yaml against the recorded transitions, beside the rules"
                " in force (nothing is sent or written)",
                "requestBody": _body(_ref("BacktestRequest")),
                "responses": {
                    **_answers(*ADMIN, *BODY, ok=(200, _ref("Backtest"))),
                    "422": {
                        "description": "a bad field, or an invalid candidate (its file and line)",
                        "content": {JSON: {"schema": {"oneOf": [_ref("Error"), _ref("ReloadRefused")]}}},
                    },
                },
            }
        )
    },
    "/admin/silences": {
        "get": _admin(
            _get(
                "silences not yet ended (all=true: every one)",
                _list("silences", "Silence"),
                *ADMIN,
                422,
                parameters=[{"name": "all", "in": "query", "schema": BOOL}],
            )
        ),
        "post": _admin(
            {
                "summary": "mute matching notifications until a time",
                "requestBody": _body(_ref("NewSilence")),
                "responses": _answers(*ADMIN, *BODY, 422, ok=(201, _ref("Silence"))),
            }
        ),
    },
    "/admin/suppressed": {
        "get": _admin(
            _get(
                "per rule and channel: messages held back or folded, that the next message counts",
                _list("suppressed", "SuppressedCount"),
                *ADMIN,
                422,
            )
        )
    },
    "/admin/silences/{id}": {
        "delete": _admin(
            {
                "summary": "end a silence now",
                "parameters": [ID],
                "responses": _answers(*ADMIN, 404, ok=(200, _object(expired=TEXT))),
            }
        )
    },
    "/admin/reload": {
        "post": _admin(
            {
                "summary": "re-read rules.yaml (as SIGHUP does); an invalid file changes nothing",
                "responses": {
                    **_answers(*ADMIN, 503, ok=(200, _ref("Reloaded"))),
                    "422": {
                        "description": "the file is invalid: the configuration in force stays",
                        "content": {JSON: {"schema": _ref("ReloadRefused")}},
                    },
                },
            }
        )
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "run-relay",
        "version": "0.1.0",
        "description": 'Run updates in, notifications out. Errors are {"error": message}.',
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": {
            f"E{status}": {"description": why, "content": {JSON: {"schema": _ref("Error")}}}
            for status, why in WHY.items()
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}


async def document(request: Request) -> Response:
    return JSONResponse(DOCUMENT)


def text() -> str:
    """What docs/openapi.json holds."""
    return json.dumps(DOCUMENT, indent=2) + "\n"


if __name__ == "__main__":
    print(text(), end="")
