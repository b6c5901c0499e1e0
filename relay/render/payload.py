"""The outbound webhook payloads, version 1, one per `type` (documented in docs/: a transition
webhook-payload.schema.json, a group webhook-group.schema.json, a digest
webhook-digest.schema.json).

Built once when a delivery is planned (or a group merged) and stored with it, so a replay
sends the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relay.digests import DigestItem, DigestSpec
from relay.models import JSON, Delivery, Message, Snapshot, Transition
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


def group_payload(members: Sequence[Delivery]) -> JSON:
    """A group's members' payloads, as planned, in one body."""
    return {
        "type": "run.transition.group",
        "version": VERSION,
        "rule": members[0].rule,
        "count": len(members),
        "items": [m.payload for m in members],
    }


def digest_payload(
    rule: str, spec: DigestSpec, end: datetime, items: Sequence[DigestItem], message: Message, *, key: str
) -> JSON:
    return {
        "type": "digest",
        "version": VERSION,
        "idempotency_key": key,
        "rule": rule,
        "window": {"start": iso(spec.window_start(end)), "end": iso(end), "tz": spec.tz},
        "counts": dict(Counter(i.phase.value for i in items)),
        "runs": [_digest_run(i) for i in items],
        "message": {"title": message.title, "body": message.body, "link": None},
        "redacted": any(i.redacted for i in items),
    }


def _digest_run(i: DigestItem) -> dict[str, Any]:
    return {
        "source": i.source,
        "id": i.run_id,
        "task": i.task,
        "status": i.status,
        "phase": i.phase.value,
        "finished_at": iso(i.finished_at),
        "duration_ms": i.duration_ms,
        "outcome": i.outcome,
        "url": i.link,
    }
