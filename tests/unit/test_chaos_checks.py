"""The chaos test's checks flag what they are there to flag (tests/chaos/checks.py)."""

from __future__ import annotations

from typing import Any

from tests.chaos.checks import (
    Kill,
    PollRequest,
    Received,
    Verdict,
    check_digests,
    check_notifications,
    check_polling,
    check_resends,
)


def note(delivery: str, at: float, run: str, rule: str = "done") -> Received:
    payload = {"type": "run.transition", "rule": rule, "run": {"source": "s", "id": run}}
    return Received(delivery, at, payload)


def digest(delivery: str, start: str, end: str, runs: list[str]) -> Received:
    payload: dict[str, Any] = {
        "type": "digest",
        "window": {"start": start, "end": end},
        "runs": [{"source": "s", "id": r} for r in runs],
    }
    return Received(delivery, 0.0, payload)


def test_a_run_never_notified_is_lost_and_one_under_two_ids_is_a_duplicate() -> None:
    verdict = Verdict()
    received = [note("d1", 1, "a"), note("d2", 2, "b"), note("d3", 3, "b"), note("d9", 4, "c", rule="other")]
    check_notifications(verdict, received, {("s", "a"), ("s", "b"), ("s", "c")}, "done")
    assert verdict.lost == ["s/c"] and verdict.duplicates == ["s/b"] and not verdict.ok


def test_a_resend_is_explained_only_by_a_kill_while_its_first_send_was_in_flight() -> None:
    verdict = Verdict()
    received = [note("d1", 10.0, "a"), note("d1", 12.0, "a"), note("d2", 20.0, "b"), note("d2", 30.0, "b")]
    check_resends(verdict, received, [Kill("r1", 10.2, False), Kill("r2", 5.0, True)])
    assert verdict.resends == 2 and verdict.unexplained_resends == ["d2"]


def test_handovers_after_a_quiet_gap_pass_and_interleaved_pollers_overlap() -> None:
    one_then_other = [PollRequest("A", 0.0, 0.1), PollRequest("A", 1.0, 1.1), PollRequest("B", 3.0, 3.1)]
    verdict = Verdict()
    check_polling(verdict, one_then_other, min_gap=0.2)
    assert verdict.ok and verdict.handovers == 1 and verdict.min_handover_gap == 1.9

    together = [PollRequest("A", 0.0, 0.05), PollRequest("B", 0.1, 0.15), PollRequest("A", 0.2, 0.25)]
    overlapping = [PollRequest("A", 0.0, 0.5), PollRequest("B", 0.3, 0.4)]
    for requests in (together, overlapping):
        verdict = Verdict()
        check_polling(verdict, requests, min_gap=0.2)
        assert verdict.overlaps and not verdict.ok


def test_digest_windows_once_each_without_gaps_and_every_failure_in_one() -> None:
    good = [digest("w1", "00:00", "00:05", ["a"]), digest("w2", "00:05", "00:10", ["b"])]
    verdict = Verdict()
    check_digests(verdict, [*good, good[1]], {("s", "a"), ("s", "b")})  # a resend of one id is fine
    assert verdict.ok and verdict.digest_windows == 2

    bad = [
        digest("w1", "00:00", "00:05", ["a"]),
        digest("w1b", "00:00", "00:05", []),  # the same window under a second id
        digest("w3", "00:10", "00:15", ["a"]),  # 00:05-00:10 missing; run a in two windows
    ]
    verdict = Verdict()
    check_digests(verdict, bad, {("s", "a"), ("s", "b")})
    assert verdict.digest_violations == [
        "window 00:05 sent under 2 ids",
        "no window ends at 00:10",
        "s/b in no digest",
        "s/a in 2 digests",
    ]
