"""RunWisp runs carry no error message: a failure's error is made of its end reason, its
exit code and the tail of its log. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from relay.models import RunError, Snapshot

TAIL_BYTES = 300  # the log tail in a message, as RunWisp's own notifier caps output_tail
TRACE_CHARS = 4000  # the longer tail kept as the error's stack_trace
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def clean_log_lines(lines: Sequence[str]) -> list[str]:
    """Terminal escapes removed, a carriage-return redraw reduced to what it shows last,
    blank lines dropped."""
    cleaned = (ANSI.sub("", line).rsplit("\r", 1)[-1].rstrip() for line in lines)
    return [line for line in cleaned if line.strip()]


def log_tail(lines: Sequence[str], max_bytes: int = TAIL_BYTES) -> str:
    """The last lines that fit in `max_bytes` of UTF-8; a last line longer than that alone
    is cut to its end, marked with a leading '…'."""
    kept: list[str] = []
    size = 0
    for line in reversed(clean_log_lines(lines)):
        cost = len(line.encode()) + (1 if kept else 0)
        if size + cost > max_bytes:
            if not kept:
                end = line.encode()[-(max_bytes - len("…".encode())) :]
                kept.append("…" + end.decode("utf-8", "ignore"))
            break
        kept.append(line)
        size += cost
    return "\n".join(reversed(kept))


def failure_error(
    end_reason: str | None, exit_code: int | None, lines: Sequence[str] = (), detail: str | None = None
) -> RunError:
    """What RunWisp has instead of an error message: reason, exit code, the log's tail."""
    head = "no exit code" if exit_code is None else f"exit code {exit_code}"
    if detail:
        head = f"{head}: {detail}"
    tail = log_tail(lines)
    trace = "\n".join(clean_log_lines(lines))[-TRACE_CHARS:]
    return RunError(
        message=f"{head}\nlast log lines:\n{tail}" if tail else head,
        name=end_reason or "ended",
        stack_trace=trace or None,
    )


def with_log(snapshot: Snapshot, lines: Sequence[str]) -> Snapshot:
    """The snapshot with its error rebuilt from its metadata and these log lines."""
    m = snapshot.metadata
    error = failure_error(m.get("end_reason"), m.get("exit_code"), lines, m.get("event_error"))
    return replace(snapshot, error=error)
