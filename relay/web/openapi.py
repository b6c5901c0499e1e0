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

from relay.models import DeliveryStatus
from relay.web.openapi_schemas import (
    ADMIN,
    BODY,
    BOOL,
    ID,
    LIMIT,
    RUN_EXAMPLE,
    SCHEMAS,
    TEXT,
    Schema,
    closed,
    named,
    ref,
)

JSON = "application/json"


def _answers(*statuses: int, ok: tuple[int, Schema] | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if ok is not None:
        answers[str(ok[0])] = {"description": "done", "content": {JSON: {"schema": ok[1]}}}
    for status in statuses:
        answers[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return answers


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
    properties: dict[str, Schema] = {key: {"type": "array", "items": ref(item)}}
    return closed(None, **properties)


PATHS: dict[str, Any] = {
    "/healthz": {"get": _get("alive", closed(status={"const": "ok"}))},
    "/readyz": {
        "get": {
            "summary": "the store answers a read and takes a write; the sources and whether they poll",
            "responses": {
                "200": {
                    "description": "ready",
                    "content": {
                        JSON: {
                            "schema": closed(
                                status={"const": "ready"},
                                sources=named("PublicSourceStatus"),
                            )
                        }
                    },
                },
                "503": {
                    "description": "the store does not answer",
                    "content": {JSON: {"schema": closed(status={"const": "unavailable"}, reason=TEXT)}},
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
            "responses": _answers(*BODY, 401, 403, 404, 422, ok=(202, ref("Accepted"))),
        }
    },
    "/admin/sources": {
        "get": _admin(
            _get(
                "every source's health",
                closed(sources=named("SourceStatus")),
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
                        ref("Delivery"),
                        {"properties": {"attempt_log": {"type": "array", "items": ref("Attempt")}}},
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
                "responses": _answers(*ADMIN, 404, ok=(202, closed(replayed=TEXT))),
            }
        )
    },
    "/admin/preview": {
        "post": _admin(
            {
                "summary": "what each channel of a rule would receive for a run (nothing is sent)",
                "requestBody": _body(ref("PreviewRequest")),
                "responses": _answers(*ADMIN, *BODY, 422, ok=(200, ref("Preview"))),
            }
        )
    },
    "/admin/backtest": {
        "post": _admin(
            {
                "summary": "a candidate rules.yaml against the recorded transitions, beside the rules"
                " in force (nothing is sent or written)",
                "requestBody": _body(ref("BacktestRequest")),
                "responses": {
                    **_answers(*ADMIN, *BODY, ok=(200, ref("Backtest"))),
                    "422": {
                        "description": "a bad field, or an invalid candidate (its file and line)",
                        "content": {JSON: {"schema": {"oneOf": [ref("Error"), ref("ReloadRefused")]}}},
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
                "requestBody": _body(ref("NewSilence")),
                "responses": _answers(*ADMIN, *BODY, 422, ok=(201, ref("Silence"))),
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
                "responses": _answers(*ADMIN, 404, ok=(200, closed(expired=TEXT))),
            }
        )
    },
    "/admin/reload": {
        "post": _admin(
            {
                "summary": "re-read rules.yaml (as SIGHUP does); an invalid file changes nothing",
                "responses": {
                    **_answers(*ADMIN, 503, ok=(200, ref("Reloaded"))),
                    "422": {
                        "description": "the file is invalid: the configuration in force stays",
                        "content": {JSON: {"schema": ref("ReloadRefused")}},
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
            f"E{status}": {"description": why, "content": {JSON: {"schema": ref("Error")}}}
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
