"""The store codec writes exactly what dataclasses.asdict would (stored rows stay readable)."""

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime

import pytest

from relay.digests import DigestItem
from relay.models import Link, Message, Phase, Snapshot
from relay.store.codec import (
    digest_item_from_json,
    digest_item_to_json,
    message_from_json,
    message_to_json,
    snapshot_from_json,
    snapshot_to_json,
)
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
    m = Message(
        "t",
        "b",
        "failure",
        "https://x",
        (("Template", "bedroom"),),
        (("Task", "Outcome"), ("a", "video")),
        (Link("Video", "https://v"),),
        "boom",
        ("https://v",),
        3,
    )
    assert message_to_json(m) == json.dumps(asdict(m), separators=(",", ":"))
    assert message_from_json(message_to_json(m)) == m


def test_a_message_stored_before_links_existed_is_decoded_as_plain_text() -> None:
    body = "Run r1\\nVideo: javascript:alert(1)"
    old = f'{{"title":"t","body":"{body}","severity":"info","link":null,"fields":[]}}'
    m = message_from_json(old)
    assert m == Message("t", "Run r1\nVideo: javascript:alert(1)")  # no link made of its text
    assert m.links == () and m.error is None and m.row_links == () and m.more == 0


def test_a_digest_item_stored_before_video_url_existed_is_decoded() -> None:
    item = DigestItem(
        "r", "c", datetime(2026, 1, 1, tzinfo=UTC), "s", "id", "task", "COMPLETED", Phase.SUCCEEDED,
        None, None, "https://v", None, video_url="https://v",
    )
    stored = json.loads(digest_item_to_json(item))
    del stored["video_url"]
    assert digest_item_from_json(json.dumps(stored)) == replace(item, video_url=None)


def test_text_beyond_ascii_is_stored_as_utf8_and_reads_back_the_same() -> None:
    s = snap("FAILED", error="caf\u00e9 \u2192 \U0001f600 \x7f", metadata={"k\u00fc": [0.5, 1e-7, 2**62]})
    stored = snapshot_to_json(s)
    assert "caf\u00e9 \u2192 \U0001f600" in stored and json.loads(stored) == json.loads(_reference(s))
    assert snapshot_from_json(stored) == s


def test_what_orjson_refuses_is_written_as_json_dumps_writes_it() -> None:
    s = snap("FAILED", metadata={"big": 2**70, "n": {1: "int key"}})
    assert snapshot_to_json(s) == _reference(s)
