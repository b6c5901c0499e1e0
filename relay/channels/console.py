"""Prints messages to standard output: the channel a newcomer sees working first.

Run data never reaches the terminal raw (relay.render.text.console_text): control characters
are removed and every line after the title is indented, so a run cannot fake another message.
"""

from __future__ import annotations

import sys

from relay.channels.base import Response
from relay.models import Delivery
from relay.render.text import console_text


class ConsoleChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, delivery: Delivery) -> Response:
        print(console_text(self.name, delivery.message), file=sys.stdout, flush=True)
        return Response(ok=True)

    async def close(self) -> None:
        return None
