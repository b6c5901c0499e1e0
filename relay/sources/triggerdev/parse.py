"""Trigger.dev run objects and alert payloads -> snapshots. Pure (docs/platforms.md 2, 4.2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relay.errors import SourceError
from relay.lifecycle import trigger_phase
from relay.models import JSON, Phase, RunError, Snapshot, Via
from relay.sources.parsing import link, run_id, short, string_tags, text, timestamp, type_name
from relay.sources.recoup.parse import parse_run
from relay.sources.triggerdev.options import run_url_template_for

RUN_FAILED = "alert.run.failed"
STACK_LIMIT = 3000  # characters, as Trigger.dev's own Slack alerts cut
STACK_NOISE = ("@trigger.dev/core", "node:internal", "(node:", "node_modules/@trigger.dev/")


def parse_retrieved(obj: object, *, source: str, run_url: str | None = None) -> Snapshot:
    """A run from the list or retrieve endpoint (either vocabulary) -> Snapshot (via poll).

    Recoup passes Trigger.dev run objects through, so its `parse_run` reads them; the error's
    stack trace is trimmed here. Raises SourceError when the object cannot identify a run."""
    snapshot = parse_run(obj, source=source, via=Via.POLL, run_url=run_url)
    return replace(snapshot, error=trim_error(snapshot.error))


def is_alert(body: object) -> bool:
    """A Trigger.dev alert payload (v2: type/object; v1: task and run objects) rather than
    the relay's run shape."""
    if not isinstance(body, dict) or "runs" in body or "taskIdentifier" in body:
        return False
    if "webhookVersion" in body or isinstance(body.get("object"), dict):
        return True
    return isinstance(body.get("run"), dict) and isinstance(body.get("task"), dict)


def parse_alert(body: dict[str, Any], *, source: str, run_url: str | None = None) -> Snapshot | None:
    """An alert payload -> the failed run's Snapshot; None for alerts about something else
    (deployments, error groups). Raises SourceError when a run-failed alert is malformed.

    The run's status is the new vocabulary's; a failure alert whose status is missing, unknown
    or not terminal is still a failure (FAILED phase; the status is kept as sent)."""
    if "run" in body and "object" not in body:  # v1: {task, run, environment, project, error}
        return _alert_snapshot(body, body["run"], body.get("error"), source, run_url)
    kind = body.get("type")
    if not isinstance(kind, str):
        raise SourceError(f"alert: type must be a string, got {short(kind)}")
    if kind != RUN_FAILED:
        return None
    obj = body.get("object")
    if not isinstance(obj, dict):
        raise SourceError(f"alert: object must be a JSON object, got {type_name(obj)}")
    run = obj.get("run")
    error = run.get("error") if isinstance(run, dict) else None
    return _alert_snapshot(obj, run, error, source, run_url, created=body.get("created"))


def _alert_snapshot(
    context: dict[str, Any],
    run: object,
    error: object,
    source: str,
    run_url: str | None,
    created: object = None,
) -> Snapshot:
    if not isinstance(run, dict):
        raise SourceError(f"alert: run must be a JSON object, got {type_name(run)}")
    rid = run_id(run, "alert run")
    where = f"alert run {rid!r}"
    task = _obj(context.get("task"))
    task_id = next((task[k] for k in ("id", "exportName") if text(task.get(k))), None)
    if task_id is None:
        raise SourceError(f"{where}: task.id is missing")
    status = run["status"] if text(run.get("status")) else "FAILED"
    phase = trigger_phase(status)
    times = {k: timestamp(run, k, where) for k in ("createdAt", "startedAt", "completedAt")}
    sent = timestamp({"created": created}, "created", where)
    updated = times["completedAt"] or sent or times["startedAt"] or times["createdAt"]
    if updated is None:
        raise SourceError(f"{where}: no timestamp (completedAt, created, startedAt, createdAt)")
    project = _obj(context.get("project"))
    return Snapshot(
        source=source,
        run_id=rid,
        task=task_id,
        status=status,
        phase=phase if phase.terminal else Phase.FAILED,
        updated_at=updated,
        via=Via.WEBHOOK,
        created_at=times["createdAt"],
        started_at=times["startedAt"],
        finished_at=times["completedAt"],
        tags=string_tags(run.get("tags")),
        is_test=run.get("isTest") is True,
        metadata={"alert": _alert_context(context, run, task)},
        error=trim_error(task_run_error(error)),
        url=_dashboard_url(run, run_url or run_url_template_for(project), rid),
    )


def _dashboard_url(run: dict[str, Any], template: str | None, rid: str) -> str | None:
    url = run.get("dashboardUrl")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return link(template, run_id=rid)


def _alert_context(context: dict[str, Any], run: dict[str, Any], task: dict[str, Any]) -> JSON:
    """What the alert says beyond the run: kept under metadata["alert"] until a poll replaces
    the snapshot with the run's own metadata."""
    env = _obj(context.get("environment"))
    project = _obj(context.get("project"))
    found = {
        "environment": env.get("slug") or env.get("type"),
        "project": project.get("ref") or project.get("slug"),
        "version": task.get("version"),
        "number": run.get("number"),
        "machine": run.get("machine"),
        "isOutOfMemoryError": run.get("isOutOfMemoryError"),
        "idempotencyKey": run.get("idempotencyKey"),
    }
    return {k: v for k, v in found.items() if isinstance(v, str | int | bool) and v != ""}


def task_run_error(value: object) -> RunError | None:
    """An alert's TaskRunError (BUILT_IN_ERROR {name, message, stackTrace}, STRING_ERROR and
    CUSTOM_ERROR {raw}, INTERNAL_ERROR {code, message?, stackTrace?}): the message, else raw,
    else the code; an internal error's code is its name."""
    if isinstance(value, str):
        return RunError(message=value) if value else None
    if not isinstance(value, dict):
        return None
    texts = {k: v for k, v in value.items() if text(v)}
    message = next((texts[k] for k in ("message", "raw", "code") if k in texts), None)
    if message is None:
        return None
    name = texts.get("name") or (texts.get("code") if texts.get("code") != message else None)
    return RunError(message=message, name=name, stack_trace=texts.get("stackTrace"))


def trim_error(error: RunError | None) -> RunError | None:
    """Stack frames of Trigger.dev's own code and of node internals removed (#2097), the
    text capped at STACK_LIMIT characters."""
    if error is None or (not error.stack_trace and len(error.message) <= STACK_LIMIT):
        return error
    stack = error.stack_trace
    if stack:
        stack = "\n".join(line for line in stack.splitlines() if not any(n in line for n in STACK_NOISE))
        stack = _cap(stack) or None
    return replace(error, message=_cap(error.message), stack_trace=stack)


def _cap(text: str) -> str:
    note = "\n… truncated, see the dashboard for the complete error"
    return text if len(text) <= STACK_LIMIT else text[: STACK_LIMIT - len(note)] + note


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
