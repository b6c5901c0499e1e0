"""Prints messages to standard output: the channel a newcomer sees working first."""

from __future__ import annotations

import sys

from relay.channels.base import Response
from relay.messages import rows_text
from relay.models import Delivery, Message


def console_text(channel: str, m: Message) -> str:
    lines = [f"[{channel}] {m.title}", *("  " + line for line in m.body.splitlines())]
    lines += [f"  {k}: {v}" for k, v in m.fields]
    if m.link:
        lines.append(f"  {m.link}")
    lines += ["  " + line for line in rows_text(m.rows).splitlines()]
    return "\n".join(lines)


class ConsoleChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, delivery: Delivery) -> Response:
        print(console_text(self.name, delivery.message), file=sys.stdout, flush=True)
        return Response(ok=True)

    async def close(self) -> None:
        return None
