"""Prints messages to standard output: the channel a newcomer sees working first.

Run data never reaches the terminal raw: control characters (ANSI escapes, carriage returns)
are removed and every line after the title is indented, so a run cannot fake another message.
"""

from __future__ import annotations

import sys

from relay.channels.base import Response
from relay.messages import one_line, text_lines
from relay.models import Delivery, Message


def console_text(channel: str, m: Message) -> str:
    return "\n".join([f"[{channel}] {one_line(m.title)}", *("  " + line for line in text_lines(m))])


class ConsoleChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, delivery: Delivery) -> Response:
        print(console_text(self.name, delivery.message), file=sys.stdout, flush=True)
        return Response(ok=True)

    async def close(self) -> None:
        return None
