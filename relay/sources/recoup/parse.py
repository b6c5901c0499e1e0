"""Recoup run objects (Trigger.dev's, passed through) -> snapshots. Pure.

Either vocabulary (the list's legacy status names, the by-id answer's new ones) and either
shape; status names go through `trigger_phase`, so the two vocabularies never make a
transition of a rename.
"""

from __future__ import annotations

from relay.errors import SourceError
from relay.lifecycle import trigger_phase
from relay.models import RunError, Snapshot, Via
from relay.sources.parsing import (
    each_run,
    json_object,
    link,
    required_text,
    run_id,
    string_tags,
    timestamp,
    type_name,
    whole_number,
)

_TIMESTAMPS = ("createdAt", "updatedAt", "startedAt", "finishedAt")


# -- parsing -------------------------------------------------------------------------------


def parse_run(obj: object, *, source: str, via: Via, run_url: str | None = None) -> Snapshot:
    """One run object (either vocabulary, list or by-id shape) -> Snapshot.

    Raises SourceError naming the field when the object cannot identify a run. Everything
    optional is read leniently: unknown statuses become Phase.UNKNOWN (status kept), an
    `output` that is not an object is dropped, a missing `updatedAt` falls back to the
    latest other timestamp.
    """
    if not isinstance(obj, dict):
        raise SourceError(f"run must be a JSON object, got {type_name(obj)}")
    run = run_id(obj, "run")
    where = f"run {run!r}"
    status = required_text(obj, "status", where)
    task = required_text(obj, "taskIdentifier", where)
    times = {key: timestamp(obj, key, where) for key in _TIMESTAMPS}
    # a datetime is never false: the first of them present
    updated = times["updatedAt"] or times["finishedAt"] or times["startedAt"] or times["createdAt"]
    if updated is None:
        raise SourceError(f"{where}: no timestamp (updatedAt, finishedAt, startedAt, createdAt)")
    return Snapshot(
        source=source,
        run_id=run,
        task=task,
        status=status,
        phase=trigger_phase(status),
        updated_at=updated,
        via=via,
        created_at=times["createdAt"],
        started_at=times["startedAt"],
        finished_at=times["finishedAt"],
        tags=string_tags(obj.get("tags")),
        is_test=obj.get("isTest") is True,
        metadata=json_object(obj.get("metadata")) or {},
        output=json_object(obj.get("output")),
        error=_error(obj.get("error")),
        duration_ms=whole_number(obj.get("durationMs")),
        cost_cents=_cost(obj.get("costInCents")),
        url=link(run_url, run_id=run),
    )


def parse_webhook_body(body: object, *, source: str, run_url: str | None = None) -> list[Snapshot]:
    """A pushed body: one run object, or the list response shape `{"runs": [...]}`.

    All or nothing: one malformed run rejects the body, so a bad request changes nothing.
    """
    if isinstance(body, dict) and "runs" in body:
        return each_run(body, lambda item: parse_run(item, source=source, via=Via.WEBHOOK, run_url=run_url))
    if isinstance(body, dict):
        return [parse_run(body, source=source, via=Via.WEBHOOK, run_url=run_url)]
    raise SourceError(f'body must be a run object or {{"runs": [...]}}, got {type_name(body)}')


def _cost(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _error(value: object) -> RunError | None:
    """REST errors are {message, name, stackTrace}; alert webhooks may carry only raw or code."""
    if isinstance(value, str):
        return RunError(message=value) if value else None
    if not isinstance(value, dict):
        return None
    texts = {k: v for k, v in value.items() if isinstance(v, str) and v}
    message = next((texts[k] for k in ("message", "raw", "code", "name") if k in texts), None)
    if message is None:
        return None
    return RunError(message=message, name=texts.get("name"), stack_trace=texts.get("stackTrace"))
