"""The store codec writes exactly what dataclasses.asdict would (stored rows stay readable)."""

import json
from dataclasses import asdict

import pytest

from relay.models import Message, Snapshot
from relay.store.codec import message_from_json, message_to_json, snapshot_from_json, snapshot_to_json
from tests.builders import snap

SNAPSHOTS = [
    snap("EXECUTING"),
    snap(
        "FAILED",
        at=5,
        tags=("account:a", "x"),
        metadata={"n": [1, {"a": None}]},
        output={"video": {"url": "https://x"}, "ok": True},
        error="ffmpeg exited with 1",
        duration_ms=12,
        url="https://example.com/runs/run_1",
    ),
]


def _reference(s: Snapshot) -> str:
    data = asdict(s)
    for key in ("updated_at", "created_at", "started_at", "finished_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize("s", SNAPSHOTS)
def test_snapshot_json_is_asdicts_and_round_trips(s: Snapshot) -> None:
    assert snapshot_to_json(s) == _reference(s)
    assert snapshot_from_json(snapshot_to_json(s)) == s


def test_message_json_is_asdicts_and_round_trips() -> None:
    m = Message("t", "b", "failure", "https://x", (("Video", "https://v"), ("Error", "boom")))
    assert message_to_json(m) == json.dumps(asdict(m), separators=(",", ":"))
    assert message_from_json(message_to_json(m)) == m
