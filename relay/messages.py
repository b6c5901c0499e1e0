"""Default Messages, written so that no template is needed. Pure.

COMPLETED shows the video link (and caption, template, song); failures show the error's
name and message. A `data:` URL (early create-content versions inlined the whole MP4) is
never pasted: the message says an inline video of N bytes was rendered and links the run.
"""

from __future__ import annotations

from typing import Any

from relay.models import Message, Phase, Snapshot, Transition

ERROR_LIMIT = 1500  # characters of error text in a message; stack traces stay in the store
CAPTION_LIMIT = 280


def video_url(output: dict[str, Any] | None) -> str | None:
    """A linkable video URL from a create-content output, or None."""
    if not output:
        return None
    video = output.get("video")
    signed = video.get("signedUrl") if isinstance(video, dict) else None
    for candidate in (signed, output.get("videoSourceUrl")):
        if isinstance(candidate, str) and candidate.startswith(("https://", "http://")):
            return candidate
    return None


def inline_video_bytes(output: dict[str, Any] | None) -> int | None:
    """Size of an inline `data:` video, from renderedVideoBytes or the URL's own length."""
    url = (output or {}).get("videoSourceUrl")
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    declared = (output or {}).get("renderedVideoBytes")
    if isinstance(declared, int):
        return declared
    payload = url.partition(",")[2]
    return len(payload) * 3 // 4  # base64 -> bytes


def safe_output(output: dict[str, Any] | None) -> dict[str, Any] | None:
    """The output with every `data:` URL replaced by a short note (for payloads and templates)."""
    if output is None:
        return None
    return {k: _safe_value(v) for k, v in output.items()}


def _safe_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("data:"):
        return f"[inline data omitted: {len(value)} characters]"
    if isinstance(value, dict):
        return {k: _safe_value(v) for k, v in value.items()}
    return value


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line or word end when one is near, marked with …"""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for boundary in ("\n", " "):
        at = cut.rfind(boundary)
        if at >= limit * 0.8:
            return cut[:at].rstrip() + " …"
    return cut + "…"


def default_message(transition: Transition, run: Snapshot) -> Message:
    phase = transition.to_phase
    title = f"{run.task} {_verb(phase, run.status)} ({run.source})"
    lines = [f"Run {run.run_id}: {transition.from_status or 'unknown'} → {run.status}"]
    if transition.skipped:
        unseen = ", ".join(p.value for p in transition.skipped)
        lines[0] += f" (passed through {unseen} between two observations)"
    fields: list[tuple[str, str]] = []
    if phase == Phase.SUCCEEDED:
        lines += _success_lines(run, fields)
    elif phase.terminal and run.error:
        name = f"{run.error.name}: " if run.error.name else ""
        lines.append(f"Error: {truncate(name + run.error.message, ERROR_LIMIT)}")
    elif phase.problem:
        lines.append("No error details were reported.")
    if run.duration_ms:
        fields.append(("Duration", duration_text(run.duration_ms)))
    if run.cost_cents:
        fields.append(("Cost", f"${run.cost_cents / 100:.2f}"))
    severity = "success" if phase == Phase.SUCCEEDED else "failure" if phase.problem else "info"
    return Message(title, "\n".join(lines), severity, run.url, tuple(fields))


def duration_text(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def _verb(phase: Phase, status: str) -> str:
    words = {
        Phase.SUCCEEDED: "completed",
        Phase.FAILED: "failed",
        Phase.CRASHED: "crashed",
        Phase.SYSTEM_ERROR: "hit a system failure",
        Phase.CANCELED: "was canceled",
        Phase.TIMED_OUT: "timed out",
        Phase.EXPIRED: "expired",
        Phase.SKIPPED: "was skipped",
        Phase.MISSED: "missed its scheduled run",
    }
    return words.get(phase, f"is {status.lower()}")


def _success_lines(run: Snapshot, fields: list[tuple[str, str]]) -> list[str]:
    output = run.output or {}
    lines: list[str] = []
    url = video_url(output)
    inline = inline_video_bytes(output)
    if url:
        lines.append(f"Video: {url}")
    elif inline is not None:
        where = f" (see {run.url})" if run.url else f" (run {run.run_id})"
        lines.append(f"An inline video of {inline} bytes was rendered; it is not linked here{where}.")
    if isinstance(caption := output.get("captionText"), str) and caption:
        lines.append(f"Caption: {truncate(caption, CAPTION_LIMIT)}")
    if isinstance(template := output.get("template"), str):
        fields.append(("Template", template))
    audio = output.get("audio")
    if isinstance(audio, dict) and audio.get("songTitle"):
        fields.append(("Song", str(audio["songTitle"])))
    if isinstance(image := output.get("imageUrl"), str) and image.startswith("https://"):
        fields.append(("Image", image))
    return lines


def rows_text(rows: tuple[tuple[str, ...], ...]) -> str:
    """A table as aligned plain-text columns (the last column is not padded)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in rows
    )
