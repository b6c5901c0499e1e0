"""RunWisp run objects, stream events and notifier payloads -> snapshots. Pure (docs/platforms.md 4.1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relay import jsonin
from relay.errors import BadJson, SourceError
from relay.models import JSON, Phase, Snapshot, Via
from relay.sources.parsing import (
    each_run,
    link,
    required_text,
    run_id,
    short,
    text,
    timestamp,
    type_name,
    whole_number,
)
from relay.sources.taskrunner.logs import failure_error
from relay.sources.taskrunner.sse import SseEvent

RUN_EVENTS = frozenset({"run.created", "run.started", "run.completed", "run.failed", "run.updated"})

STATUSES: dict[str, Phase] = {"pending": Phase.QUEUED, "running": Phase.RUNNING}
END_REASONS: dict[str, Phase] = {
    "success": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "log_overflow": Phase.FAILED,  # log_on_full = "kill_task": RunWisp counts it a failure
    "stopped": Phase.CANCELED,
    "timeout": Phase.TIMED_OUT,
    "crashed": Phase.CRASHED,
    "skipped": Phase.SKIPPED,  # concurrency policy: never ran, not a failure
    # later versions
    "queue_full": Phase.SKIPPED,
    "dst_skipped": Phase.SKIPPED,
    "daemon_stopped": Phase.CANCELED,
    "missed": Phase.MISSED,
}
# RunWisp's notifier event kinds (its webhook payload) -> (status, end_reason)
NOTIFIER_KINDS: dict[str, tuple[str, str | None]] = {
    "run.started": ("running", None),
    "run.succeeded": ("ended", "success"),
    "run.failed": ("ended", "failed"),
    "run.timeout": ("ended", "timeout"),
    "run.stopped": ("ended", "stopped"),
    "run.crashed": ("ended", "crashed"),
    "run.missed": ("ended", "missed"),
}


def runwisp_phase(status: str, end_reason: str | None) -> Phase:
    """status + end_reason -> Phase (docs/platforms.md 4.1). Unknown values: Phase.UNKNOWN."""
    status = status.strip().lower()
    if status != "ended":
        return STATUSES.get(status, Phase.UNKNOWN)
    if not end_reason:
        return Phase.CANCELED  # RunWisp displays a reasonless end as "stopped"
    return END_REASONS.get(end_reason.strip().lower(), Phase.UNKNOWN)


def display_status(status: str, end_reason: str | None) -> str:
    """RunWisp's own DisplayStatus(): the end reason once ended, else the phase."""
    if status.strip().lower() == "ended":
        return end_reason or "stopped"
    return status


def parse_run(
    obj: object,
    *,
    source: str,
    via: Via,
    task: str | None = None,
    external_url: str | None = None,
    run_url: str | None = None,
    event_error: str | None = None,
) -> Snapshot:
    """One RunWisp run object (any version) -> Snapshot. `task` names the run when the
    object lacks `task_name` (a per-task list). Raises SourceError naming the field when it
    cannot identify a run; unknown statuses and reasons become Phase.UNKNOWN."""
    if not isinstance(obj, dict):
        raise SourceError(f"run must be a JSON object, got {type_name(obj)}")
    rid = run_id(obj, "run")
    where = f"run {rid!r}"
    raw_status = required_text(obj, "status", where)
    name = obj.get("task_name")
    if name is None and task is not None:
        name = task
    if not isinstance(name, str) or not name.strip():
        raise SourceError(
            f"{where}: task_name is missing" if name is None else f"{where}: bad task_name {short(name)}"
        )
    reason = obj.get("end_reason")
    end_reason = str(reason) if reason not in (None, "") else None
    phase = runwisp_phase(raw_status, end_reason)
    created, started, ended = (timestamp(obj, k, where) for k in ("created_at", "start_at", "end_at"))
    known = [t for t in (created, started, ended) if t is not None]
    if not known:
        raise SourceError(f"{where}: no timestamp (created_at, start_at, end_at)")
    metadata = _metadata(obj, name, raw_status, end_reason, event_error)
    exit_code = metadata["exit_code"]
    return Snapshot(
        source=source,
        run_id=rid,
        task=name,
        status=display_status(raw_status, end_reason),
        phase=phase,
        updated_at=max(known),  # runs have no updated_at: the latest moment they record
        via=via,
        created_at=created,
        started_at=started,
        finished_at=ended,
        tags=_tags(metadata),
        metadata=metadata,
        error=failure_error(end_reason, exit_code, (), event_error) if phase.problem else None,
        duration_ms=int((ended - started).total_seconds() * 1000)
        if started and ended and ended >= started
        else None,
        url=_link(rid, name, run_url, external_url),
    )


def _metadata(
    obj: dict[str, Any], task: str, status: str, end_reason: str | None, event_error: str | None
) -> JSON:
    instance = whole_number(obj.get("instance_index"))
    if instance is None:
        instance = whole_number(obj.get("replica_index"))  # before v0.5.0's rename
    instance = instance or 0
    metadata: JSON = {
        "task_name": task,
        "task_label": f"{task}#{instance}" if instance > 0 else task,
        "run_status": status,
        "end_reason": end_reason,
        "exit_code": whole_number(obj.get("exit_code")),
        "triggered_by": text(obj.get("triggered_by")),
        "instance_index": instance,
        "retry_attempt": whole_number(obj.get("retry_attempt")) or 0,
        "retry_of_run_id": text(obj.get("retry_of_run_id")),
        "external_execution_id": text(obj.get("external_execution_id")),
    }
    if event_error:
        metadata["event_error"] = event_error
    return metadata


def _tags(metadata: JSON) -> tuple[str, ...]:
    tags = [f"triggered_by:{metadata['triggered_by']}"] if metadata["triggered_by"] else []
    if metadata["instance_index"] > 0:
        tags.append(f"instance:{metadata['instance_index']}")
    if metadata["retry_attempt"] > 0:
        tags.append(f"retry_attempt:{metadata['retry_attempt']}")
    return tuple(tags)


def _link(rid: str, task: str, run_url: str | None, external_url: str | None) -> str | None:
    if run_url:
        return link(run_url, run_id=rid, task=task)
    return (
        link(f"{external_url.rstrip('/')}/tasks/{{task}}/{{run_id}}", run_id=rid, task=task)
        if external_url
        else None
    )


def parse_event(
    event: SseEvent, *, source: str, external_url: str | None = None, run_url: str | None = None
) -> Snapshot | None:
    """A run lifecycle event of the SSE stream -> Snapshot (via WEBHOOK: pushed news);
    None for every other event (ping, system, run.deleted...)."""
    if event.event not in RUN_EVENTS:
        return None
    what = f"event {event.event}" + (f" id {event.id}" if event.id else "")
    try:
        data = jsonin.loads(event.data)
    except BadJson as exc:
        raise SourceError(f"{what}: data is not JSON ({exc}): {short(event.data)}") from None
    run, error = _unwrap_event(data)
    try:
        return parse_run(
            run, source=source, via=Via.WEBHOOK, external_url=external_url, run_url=run_url, event_error=error
        )
    except SourceError as exc:
        raise SourceError(f"{what}: {exc}") from exc


def _unwrap_event(data: object) -> tuple[object, str | None]:
    """events.RunEvent is {run, logPath?, error?}; tolerate a bare run object too."""
    if isinstance(data, dict) and isinstance(data.get("run"), dict):
        return data["run"], text(data.get("error"))
    return data, None


def parse_webhook_body(
    body: object, *, source: str, external_url: str | None = None, run_url: str | None = None
) -> list[Snapshot]:
    """A pushed body (see the module docstring). All or nothing, like the Recoup kind."""
    links = {"external_url": external_url, "run_url": run_url}
    if isinstance(body, dict) and "runs" in body:
        return each_run(body, lambda item: parse_run(item, source=source, via=Via.WEBHOOK, **links))
    if isinstance(body, dict) and isinstance(body.get("kind"), str) and "status" not in body:
        return _notifier_payload(body, source=source, **links)
    if isinstance(body, dict):
        run, error = _unwrap_event(body)
        return [parse_run(run, source=source, via=Via.WEBHOOK, event_error=error, **links)]
    raise SourceError(
        f'body must be a run object, {{"run": ...}} or {{"runs": [...]}}, got {type_name(body)}'
    )


def _notifier_payload(
    body: dict[str, Any], *, source: str, external_url: str | None, run_url: str | None
) -> list[Snapshot]:
    """RunWisp's webhook notifier payload. Kinds about no run (service.fatal,
    notify.delivery_failed) are accepted and ignored."""
    kind = body["kind"]
    if not kind.startswith("run."):
        return []
    status, end_reason = NOTIFIER_KINDS.get(kind, ("ended", kind.removeprefix("run.")))
    run = body.get("run")
    if not isinstance(run, dict):
        raise SourceError(f"{kind}: run must be an object, got {type_name(run)}")
    stamp = "start_at" if status == "running" else "end_at"
    item = {
        "id": run.get("id"),
        "task_name": body.get("task"),
        "status": status,
        "end_reason": end_reason,
        "exit_code": run.get("exit_code"),
        "triggered_by": run.get("triggered_by"),
        stamp: body.get("timestamp"),
    }
    links = external_url or run_url
    own_url = run.get("url") if isinstance(run.get("url"), str) else None
    snapshot = parse_run(item, source=source, via=Via.WEBHOOK, external_url=external_url, run_url=run_url)
    if not links and own_url and own_url.startswith(("https://", "http://")):
        snapshot = replace(snapshot, url=own_url)
    tail = body.get("output_tail")
    if snapshot.phase.problem:
        lines = tail.splitlines() if isinstance(tail, str) else []
        detail = text(body.get("reason")) if snapshot.metadata["exit_code"] is None else None
        m = snapshot.metadata
        snapshot = replace(snapshot, error=failure_error(m["end_reason"], m["exit_code"], lines, detail))
    return [snapshot]
