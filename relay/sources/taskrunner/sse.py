"""Server-Sent Events, decoded. Pure.

No dependency: the protocol is a few line rules (WHATWG HTML, "Server-sent events"):
`field: value` lines, one optional space after the colon, `:` starts a comment, a blank line
dispatches the event, `data` lines join with a newline, `id` sets the last event id (kept
across events that carry none, ignored if it contains NUL), `retry` is a reconnection delay
in milliseconds. An event with no `data` line is not dispatched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" when the server named none
    data: str
    id: str | None = None  # the last event id in force when this event was dispatched
    retry: float | None = None  # seconds, when this event's block carried `retry:`


class SseDecoder:
    """Feed it lines (without their line ending); it returns an event at each blank line."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self._event = ""
        self._data: list[str] = []
        self._retry: float | None = None

    def feed(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (some servers keep connections alive with these)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_event_id = value or None
        elif name == "retry" and value.isdigit():
            self._retry = int(value) / 1000.0
        return None  # unknown fields are ignored, as the spec says

    def _dispatch(self) -> SseEvent | None:
        event, data, retry = self._event or "message", self._data, self._retry
        self._event, self._data, self._retry = "", [], None
        if not data:
            return None
        return SseEvent(event, "\n".join(data), self.last_event_id, retry)


async def sse_events(
    lines: AsyncIterable[str], decoder: SseDecoder | None = None
) -> AsyncGenerator[SseEvent, None]:
    """Events from a stream's lines. An event cut off by the end of the stream is dropped."""
    decoder = decoder or SseDecoder()
    async for line in lines:
        event = decoder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
