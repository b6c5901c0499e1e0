"""A fast recording HTTP sink: raw asyncio, HTTP/1.1 keep-alive, TCP_NODELAY.

    python -m bench.sink --port 9001

Every POST is answered at once ("ok", or 500 for every 10th request under /fail10/) and, when
accepted, recorded as (time.monotonic(), the first run id found in the body). CLOCK_MONOTONIC is
system-wide, so the load generator's send times and these arrival times compare directly.

Control (GET): /_count -> {"received", "answered", "failed"}; /_records -> the same plus
"records": [[t, id], ...]; /_reset clears everything. Not Python's http.server: its keep-alive
answers wait for a delayed ACK (~44 ms here), which would falsify every latency figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import time

RUN_ID = re.compile(rb"brun-[0-9a-z]+-[0-9]+")
OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
FAIL = b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nno, 500"


class State:
    def __init__(self) -> None:
        self.records: list[tuple[float, str]] = []
        self.answered = 0
        self.failed = 0

    def summary(self, records: bool) -> bytes:
        data: dict[str, object] = {
            "received": len(self.records),
            "answered": self.answered,
            "failed": self.failed,
        }
        if records:
            data["records"] = self.records
        return json.dumps(data).encode()


class SinkProtocol(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out: list[bytes] = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                break
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            out.append(self._answer(head, body))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _answer(self, head: bytes, body: bytes) -> bytes:
        line = head.split(b"\r\n", 1)[0]
        method, _, rest = line.partition(b" ")
        path = rest.rsplit(b" ", 1)[0]
        s = self.state
        if method == b"GET":
            if path == b"/_reset":
                s.records, s.answered, s.failed = [], 0, 0
            payload = s.summary(records=path == b"/_records")
            return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
                len(payload),
                payload,
            )
        s.answered += 1
        if path.startswith(b"/fail10/") and s.answered % 10 == 0:
            s.failed += 1
            return FAIL
        found = RUN_ID.search(body)
        s.records.append((time.monotonic(), found.group().decode() if found else ""))
        return OK


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end if end >= 0 else None].strip())


async def serve(port: int) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(state), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
