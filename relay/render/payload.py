"""The outbound webhook payload, version 1 (documented in docs/webhook-payload.schema.json).

Built once when a delivery is planned and stored with it, so a replay sends the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.models import JSON, Message, Snapshot, Transition
from relay.render.output import inline_video_bytes, safe_output, video_url

VERSION = "1"


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def build_payload(transition: Transition, run: Snapshot, message: Message, *, rule: str, key: str) -> JSON:
    return {
        "type": "run.transition",
        "version": VERSION,
        "idempotency_key": key,
        "rule": rule,
        "observed_at": iso(transition.observed_at),
        "transition": {
            "from_phase": transition.from_phase.value if transition.from_phase else None,
            "to_phase": transition.to_phase.value,
            "from_status": transition.from_status,
            "to_status": transition.to_status,
            "first_seen": transition.first_seen,
            "skipped": [p.value for p in transition.skipped],
            "via": transition.via.value,
        },
        "run": _run(run),
        "message": {
            "title": message.title,
            "body": message.body,
            "link": message.link,
            "error": message.error,
            "links": [{"label": label, "url": url} for label, url in message.links],
        },
    }


def _run(run: Snapshot) -> dict[str, Any]:
    return {
        "source": run.source,
        "id": run.run_id,
        "task": run.task,
        "status": run.status,
        "phase": run.phase.value,
        "terminal": run.terminal,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "updated_at": iso(run.updated_at),
        "duration_ms": run.duration_ms,
        "tags": list(run.tags),
        "is_test": run.is_test,
        "url": run.url,
        "video_url": video_url(run.output),
        "inline_video_bytes": inline_video_bytes(run.output),
        "output": safe_output(run.output),
        "error": ({"message": run.error.message, "name": run.error.name} if run.error else None),
    }
