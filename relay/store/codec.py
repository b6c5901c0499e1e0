"""Nouns <-> JSON-able dicts and epoch seconds, shared by the SQL backends."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from relay.models import JSON, Message, Phase, RunError, Snapshot, Via


def epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def snapshot_to_json(s: Snapshot) -> str:
    data = asdict(s)
    for key in ("updated_at", "created_at", "started_at", "finished_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return json.dumps(data, separators=(",", ":"))


def snapshot_from_json(text: str) -> Snapshot:
    d: dict[str, Any] = json.loads(text)
    error = d.get("error")
    return Snapshot(
        source=d["source"],
        run_id=d["run_id"],
        task=d["task"],
        status=d["status"],
        phase=Phase(d["phase"]),
        updated_at=_dt(d["updated_at"]) or from_epoch(0),
        via=Via(d["via"]),
        created_at=_dt(d["created_at"]),
        started_at=_dt(d["started_at"]),
        finished_at=_dt(d["finished_at"]),
        tags=tuple(d["tags"]),
        is_test=d["is_test"],
        metadata=d["metadata"],
        output=d["output"],
        error=RunError(**error) if error else None,
        duration_ms=d["duration_ms"],
        url=d["url"],
    )


def message_to_json(m: Message) -> str:
    return json.dumps(asdict(m), separators=(",", ":"))


def message_from_json(text: str) -> Message:
    d = json.loads(text)
    d["fields"] = tuple(tuple(f) for f in d["fields"])
    return Message(**d)


def dumps(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"))
