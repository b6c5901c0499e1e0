"""Prints messages to standard output: the channel a newcomer sees working first."""

from __future__ import annotations

import sys

from relay.channels.base import Response
from relay.models import Delivery


class ConsoleChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, delivery: Delivery) -> Response:
        m = delivery.message
        lines = [f"[{self.name}] {m.title}", *("  " + line for line in m.body.splitlines())]
        lines += [f"  {k}: {v}" for k, v in m.fields]
        if m.link:
            lines.append(f"  {m.link}")
        print("\n".join(lines), file=sys.stdout, flush=True)
        return Response(ok=True)

    async def close(self) -> None:
        return None
