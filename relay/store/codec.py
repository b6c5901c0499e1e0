"""Nouns <-> JSON-able dicts and epoch seconds, shared by the SQL backends."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from relay.digests import DigestItem
from relay.jsonout import compact as _compact
from relay.models import JSON, Link, Message, Phase, RunError, Snapshot, StoredJSON, Via


def epoch(value: datetime) -> float:
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))
_ERROR_FIELDS = tuple(f.name for f in fields(RunError))
_MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
_DATES = ("updated_at", "created_at", "started_at", "finished_at")


def snapshot_to_json(s: Snapshot) -> str:
    # what dataclasses.asdict gives, without its deep copy of every value (10x slower)
    data: dict[str, Any] = {name: getattr(s, name) for name in _SNAPSHOT_FIELDS}
    for key in _DATES:
        data[key] = data[key].isoformat() if data[key] else None
    if s.error is not None:
        data["error"] = {name: getattr(s.error, name) for name in _ERROR_FIELDS}
    return _compact(data)


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
        cost_cents=d.get("cost_cents"),  # absent in rows written before it existed
        url=d["url"],
    )


def message_to_json(m: Message) -> str:
    return _compact({name: getattr(m, name) for name in _MESSAGE_FIELDS})


def message_from_json(text: str) -> Message:
    """Also a message stored before links, error, row_links and more existed: its body is
    shown as the plain text it always was (a "Video: ..." line in it is no link)."""
    d = json.loads(text)
    d["fields"] = tuple(tuple(f) for f in d["fields"])
    d["rows"] = tuple(tuple(r) for r in d.get("rows", ()))
    d["links"] = tuple(Link(*link) for link in d.get("links", ()))
    d["row_links"] = tuple(d.get("row_links", ()))
    return Message(**d)


def payload_from_json(text: str) -> StoredJSON:
    """A delivery's payload, keeping its stored text: written by `dumps`, the very encoding
    of a webhook's body, so that text is the body (tests/unit/test_webhook_body.py)."""
    payload = StoredJSON(json.loads(text))
    payload.text = text
    return payload


def dumps(value: JSON) -> str:
    return _compact(value)


def digest_item_to_json(i: DigestItem) -> str:
    data = {f.name: getattr(i, f.name) for f in fields(DigestItem)}
    data |= {
        "window_end": i.window_end.isoformat(),
        "phase": i.phase.value,
        "finished_at": i.finished_at.isoformat() if i.finished_at else None,
    }
    return _compact(data)


def digest_item_from_json(text: str) -> DigestItem:
    d = json.loads(text)
    d |= {
        "window_end": datetime.fromisoformat(d["window_end"]),
        "phase": Phase(d["phase"]),
        "finished_at": _dt(d["finished_at"]),
    }
    return DigestItem(**d)
