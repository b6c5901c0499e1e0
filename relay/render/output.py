"""What a create-content output shows: its video as a vetted link, and never a `data:` URL
(early create-content versions inlined the whole MP4), only a note of its size."""

from __future__ import annotations

from typing import Any

from relay.render.escape import web_url


def is_data_url(value: object) -> bool:
    return isinstance(value, str) and value.lstrip()[:5].lower() == "data:"


def video_url(output: dict[str, Any] | None) -> str | None:
    """A linkable video URL from a create-content output, or None."""
    if not output:
        return None
    video = output.get("video")
    signed = video.get("signedUrl") if isinstance(video, dict) else None
    for candidate in (signed, output.get("videoSourceUrl")):
        if url := web_url(candidate):
            return url
    return None


def inline_video_bytes(output: dict[str, Any] | None) -> int | None:
    """Size of an inline `data:` video, from renderedVideoBytes or the URL's own length."""
    url = (output or {}).get("videoSourceUrl")
    if not isinstance(url, str) or not is_data_url(url):
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
    if is_data_url(value):
        return f"[inline data omitted: {len(value)} characters]"
    if isinstance(value, dict):
        return {k: _safe_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_value(v) for v in value]
    return value
