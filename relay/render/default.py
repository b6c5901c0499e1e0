"""The default Message of a transition, written so that no template is needed. Pure.

COMPLETED shows the video link (and caption, template, song); failures show the error's
name and message. A `data:` URL (early create-content versions inlined the whole MP4) is
never pasted: the message says an inline video of N bytes was rendered and links the run.

Run data is untrusted: a Message carries it as plain text, and links only in the fields that
are links (`link`, `links`, `row_links`), each vetted by `web_url` where it is shown.
"""

from __future__ import annotations

from relay.models import Link, Message, Phase, Snapshot, Transition
from relay.render.escape import one_line, truncate, web_url
from relay.render.output import inline_video_bytes, video_url

ERROR_LIMIT = 1500  # characters of error text in a message; stack traces stay in the store
NOTE = "Some values were redacted (secrets)."  # a message whose run had values masked
CAPTION_LIMIT = 280
FIELD_LIMIT = 200  # a template name, a song title


def default_message(transition: Transition, run: Snapshot) -> Message:
    phase = transition.to_phase
    title = one_line(f"{run.task} {_verb(phase, run.status)} ({run.source})")
    lines = [f"Run {run.run_id}: {transition.from_status or 'unknown'} → {run.status}"]
    if transition.skipped:
        unseen = ", ".join(p.value for p in transition.skipped)
        lines[0] += f" (passed through {unseen} between two observations)"
    fields: list[tuple[str, str]] = []
    links: list[Link] = []
    error = None
    if phase == Phase.SUCCEEDED:
        lines += _success_lines(run, fields, links)
    elif phase.terminal and run.error:
        name = f"{run.error.name}: " if run.error.name else ""
        error = truncate(name + run.error.message, ERROR_LIMIT)
    elif phase.problem:
        lines.append("No error details were reported.")
    if run.duration_ms:
        fields.append(("Duration", duration_text(run.duration_ms)))
    if run.cost_cents:
        fields.append(("Cost", f"${run.cost_cents / 100:.2f}"))
    severity = "success" if phase == Phase.SUCCEEDED else "failure" if phase.problem else "info"
    return Message(
        title, "\n".join(lines), severity, web_url(run.url), tuple(fields), links=tuple(links), error=error
    )


def duration_text(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


_VERBS = {
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


def _verb(phase: Phase, status: str) -> str:
    return _VERBS.get(phase) or f"is {status.lower()}"


def _success_lines(run: Snapshot, fields: list[tuple[str, str]], links: list[Link]) -> list[str]:
    output = run.output or {}
    lines: list[str] = []
    url = video_url(output)
    inline = inline_video_bytes(output)
    if url:
        links.append(Link("Video", url))
    elif inline is not None:
        where = " (see the run's page)" if web_url(run.url) else f" (run {run.run_id})"
        lines.append(f"An inline video of {inline} bytes was rendered; it is not linked here{where}.")
    if isinstance(caption := output.get("captionText"), str) and caption:
        lines.append(f"Caption: {truncate(caption, CAPTION_LIMIT)}")
    if isinstance(template := output.get("template"), str):
        fields.append(("Template", truncate(template, FIELD_LIMIT)))
    audio = output.get("audio")
    if isinstance(audio, dict) and audio.get("songTitle"):
        fields.append(("Song", truncate(str(audio["songTitle"]), FIELD_LIMIT)))
    if image := web_url(output.get("imageUrl")):
        links.append(Link("Image", image))
    return lines
