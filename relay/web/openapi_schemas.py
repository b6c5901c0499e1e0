"""The data the OpenAPI document (web/openapi.py) is built from: JSON Schema building blocks,
and the components' schemas, one per noun the API sends or takes."""

from __future__ import annotations

from typing import Any

from relay.models import DeliveryStatus, Phase
from relay.silences import MATCHER_KEYS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(required: list[str] | None = None, **properties: Schema) -> Schema:
    """A closed object: every property named, `required` (default: all of them) present."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
    }


def named(schema: str) -> Schema:
    """An object whose every value is a `schema`, by name (sources by their names)."""
    return {"type": "object", "additionalProperties": ref(schema)}


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
    "Error": closed(error=TEXT),
    "ReloadRefused": closed(error=TEXT, file=NULLABLE_TEXT, line={"type": ["integer", "null"]}),
    "Reloaded": closed(
        reloaded=TEXT,
        sources=INT,
        channels=INT,
        rules=INT,
        changes=closed(channels=ref("Changes"), sources=ref("Changes")),
    ),
    "Changes": closed(added=NAMES, removed=NAMES, changed=NAMES),
    "Accepted": closed(accepted=INT, transitions=INT, deliveries=INT),
    "SourceStatus": closed(
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
    "PublicSourceStatus": closed(kind=TEXT, enabled=BOOL, polling=BOOL, consecutive_failures=INT),
    "Run": closed(
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
    "Transition": closed(
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
    "Delivery": closed(
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
        message=closed(title=TEXT, body=TEXT),
    ),
    "Attempt": closed(
        delivery_id=TEXT,
        n=INT,
        started_at=TIME,
        latency_ms={"type": "number"},
        ok=BOOL,
        http_status={"type": ["integer", "null"]},
        reason=NULLABLE_TEXT,
        excerpt=NULLABLE_TEXT,
    ),
    "Silence": closed(
        id=TEXT,
        matchers={"type": "object", "additionalProperties": TEXT},
        starts_at=TIME,
        ends_at=TIME,
        comment=TEXT,
        created_by=TEXT,
        active=BOOL,
    ),
    "SuppressedCount": closed(
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
    "NewSilence": closed(
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
    "Verdict": closed(
        rule=TEXT,
        matches={"type": "boolean", "description": "the rule would notify"},
        why_not=NULLABLE_TEXT,
        silenced={"type": "object", "additionalProperties": TEXT, "description": "channel -> why"},
    ),
    "BacktestRequest": closed(
        ["rules"],
        rules={"type": "string", "description": "the candidate rules.yaml"},
        since={"type": "string", "description": "how far back, e.g. 7d (default), 12h; at most 365d"},
    ),
    "Backtest": closed(
        since=TIME,
        transitions={"type": "integer", "description": "transitions scanned"},
        limit={"type": "integer", "description": "at most this many transitions are scanned"},
        truncated={"type": "boolean", "description": "there were more than `limit`: the oldest were scanned"},
        first=NULLABLE_TIME,
        last=NULLABLE_TIME,
        rules={"type": "array", "items": ref("BacktestRow")},
        runs=closed(
            notified=INT,
            notified_in_force=INT,
            newly_notified=ref("BacktestRuns"),
            no_longer_notified=ref("BacktestRuns"),
        ),
    ),
    "BacktestRow": closed(
        rule=TEXT,
        channel=TEXT,
        in_candidate=BOOL,
        in_force=BOOL,
        messages=INT,
        silenced=INT,
        digest_items=INT,
        runs=INT,
        messages_in_force=INT,
        newly_notified=ref("BacktestRuns"),
        no_longer_notified=ref("BacktestRuns"),
        examples={"type": "array", "items": {"type": "object"}},
    ),
    "BacktestRuns": closed(
        count=INT,
        runs={"type": "array", "items": closed(source=TEXT, id=TEXT, task=TEXT)},
    ),
    "PreviewRequest": closed(
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
            "rules": {"type": "array", "items": ref("Verdict")},
            "run": closed(source=TEXT, id=TEXT, task=TEXT, status=TEXT),
            "channels": {"type": "object", "additionalProperties": {"type": "object"}},
        },
    },
}
