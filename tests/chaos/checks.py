"""The chaos test's verdict, from what was recorded (pure: no I/O, no clock).

Times are the driver's monotonic seconds, the same clock for the sink, the fake platform's
request log and the kills, since all three live in the driver's process.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# a resend must follow a kill that came at most this long before the first send arrived: the
# send was then in flight (the sink answered, the answer was lost with the process)
IN_FLIGHT_SLACK = 1.0


@dataclass(frozen=True)
class Received:
    """One POST the sink answered 2xx: its `webhook-id` and payload."""

    id: str
    at: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class PollRequest:
    """One request of a poller at the fake platform, from arrival to answer."""

    agent: str  # the user-agent: "run-relay (<replica id>)"
    start: float
    end: float


@dataclass(frozen=True)
class Kill:
    replica: str
    at: float
    leader: bool  # it was the poll leader at that moment


@dataclass
class Verdict:
    runs: int = 0
    unaccepted: int = 0  # pushes no replica answered 2xx within the deadline (not expected then)
    kills: int = 0
    leader_kills: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # runs under two delivery ids or more
    resends: int = 0
    unexplained_resends: list[str] = field(default_factory=list)
    handovers: int = 0
    overlaps: list[str] = field(default_factory=list)
    min_handover_gap: float | None = None
    digest_windows: int = 0
    digest_violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(
            (self.lost, self.duplicates, self.unexplained_resends, self.overlaps, self.digest_violations)
        )

    def summary(self) -> str:
        gap = "-" if self.min_handover_gap is None else f"{self.min_handover_gap:.2f}s"
        lines = [
            f"runs {self.runs} (pushes never accepted {self.unaccepted}), "
            f"kills {self.kills} (poll leader {self.leader_kills})",
            f"lost {len(self.lost)}, duplicates {len(self.duplicates)}, resends {self.resends} "
            f"(unexplained {len(self.unexplained_resends)})",
            f"poll handovers {self.handovers}, overlap {len(self.overlaps)}, smallest handover gap {gap}",
            f"digest windows {self.digest_windows}, digest violations {len(self.digest_violations)}",
        ]
        for name in ("lost", "duplicates", "unexplained_resends", "overlaps", "digest_violations"):
            items: list[str] = getattr(self, name)
            if items:
                lines.append(f"{name}: {', '.join(items[:20])}{' ...' if len(items) > 20 else ''}")
        lines.append("OK" if self.ok else "VIOLATIONS")
        return "\n".join(lines)


def transitions(received: list[Received], rule: str) -> dict[tuple[str, str], set[str]]:
    """(source, run id) -> the delivery ids it was notified under by `rule`."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in received:
        if r.payload.get("type") == "run.transition" and r.payload.get("rule") == rule:
            run = r.payload["run"]
            ids[(run["source"], run["id"])].add(r.id)
    return ids


def check_notifications(
    verdict: Verdict, received: list[Received], expected: set[tuple[str, str]], rule: str
) -> None:
    """Every accepted terminal transition notified, and under one delivery id only."""
    notified = transitions(received, rule)
    verdict.lost = sorted(f"{s}/{r}" for s, r in expected - notified.keys())
    verdict.duplicates = sorted(f"{s}/{r}" for (s, r), ids in notified.items() if len(ids) > 1)


def check_resends(verdict: Verdict, received: list[Received], kills: list[Kill]) -> None:
    """A delivery id seen again is a resend; each needs a kill while its first send was in flight."""
    first: dict[str, float] = {}
    for r in sorted(received, key=lambda r: r.at):
        if r.id not in first:
            first[r.id] = r.at
            continue
        verdict.resends += 1
        if not any(first[r.id] - IN_FLIGHT_SLACK <= k.at <= r.at for k in kills):
            verdict.unexplained_resends.append(r.id)


def check_polling(verdict: Verdict, requests: list[PollRequest], min_gap: float) -> None:
    """At most one replica polls at a time. The requests, in order of arrival, fall into stints
    of one user-agent. A stint ends only when its replica lost the lease (killed, or cut off
    from the store), and another replica takes the lease only once it has run out: `ttl` after
    the last renewal, while the old holder stops polling by half of it plus a round. So each
    handover starts after the previous stint's last answer, with a quiet gap; two replicas
    polling together interleave their requests into stints with overlapping or tiny gaps."""
    stint_agent, stint_end = "", 0.0
    for req in sorted(requests, key=lambda r: r.start):
        if req.agent == stint_agent or not stint_agent:
            stint_agent, stint_end = req.agent, max(stint_end, req.end)
            continue
        gap = req.start - stint_end
        verdict.handovers += 1
        smallest = verdict.min_handover_gap
        verdict.min_handover_gap = gap if smallest is None else min(smallest, gap)
        if gap < min_gap:
            verdict.overlaps.append(f"{stint_agent}->{req.agent} gap {gap:.3f}s at {req.start:.2f}")
        stint_agent, stint_end = req.agent, req.end


def check_digests(verdict: Verdict, received: list[Received], problems: set[tuple[str, str]]) -> None:
    """Each window sent under one delivery id, no window missing between the first and the last
    (they are sent even when empty), every problem run in exactly one window."""
    windows: dict[str, set[str]] = defaultdict(set)
    runs_in: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in received:
        if r.payload.get("type") != "digest":
            continue
        end = r.payload["window"]["end"]
        windows[end].add(r.id)
        for run in r.payload["runs"]:
            runs_in[(run["source"], run["id"])].add(end)
    verdict.digest_windows = len(windows)
    first_end = min(windows, default="")
    starts = {r.payload["window"]["start"] for r in received if r.payload.get("type") == "digest"}
    out = verdict.digest_violations
    out += [f"window {end} sent under {len(ids)} ids" for end, ids in windows.items() if len(ids) > 1]
    missing = [start for start in sorted(starts) if start > first_end and start not in windows]
    out += [f"no window ends at {start}" for start in missing]
    out += [f"{s}/{r} in no digest" for s, r in sorted(problems - runs_in.keys())]
    out += [f"{s}/{r} in {len(w)} digests" for (s, r), w in sorted(runs_in.items()) if len(w) > 1]
    out += [f"{s}/{r} in a digest, never a problem" for s, r in sorted(runs_in.keys() - problems)]
