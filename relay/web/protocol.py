"""uvicorn's HTTP protocol (httptools) with a deadline and a size cap on a request's head.

uvicorn closes idle keep-alive connections, but a client that sends its request line and
headers a byte at a time (slowloris) holds its connection, and a place under
`limit_concurrency`, for as long as it likes. Here a request's head must be complete within
`head_timeout` seconds of the connection opening (or of the request's first byte, on a kept-
alive connection) and within MAX_HEAD_BYTES, else the connection is closed. A body has its
own deadline where it is read (web/bodies.py). Builds on uvicorn's HttpToolsProtocol hooks:
connection_made, data_received, on_message_begin, on_headers_complete, connection_lost.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024


class HeadDeadlineProtocol(HttpToolsProtocol):
    head_timeout = 10.0  # seconds; `with_head_timeout` makes a class with another value
    _deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        in_head = self._deadline is not None
        super().data_received(data)
        if in_head and self._deadline is not None:  # still no end of the head
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_bytes = 0
        self._deadline = self.loop.call_later(self.head_timeout, self._overdue)

    def _overdue(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined head behind a slow answer: its time starts after that answer
            return
        self._close()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _close(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadDeadlineProtocol]:
    """uvicorn builds protocols itself (`http=` takes a class), so the setting rides on one."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})
