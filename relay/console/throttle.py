"""Sign-in attempts with a wrong token, counted per client address: after `LIMIT` within
`WINDOW` seconds, that address is refused (429, Retry-After) until the oldest of them is a
window old, whatever token it sends. A correct sign-in clears the address's count.

Counted in this process's memory: each process (each of `relay serve --workers N`, each
replica) keeps its own count, so a guesser gets `LIMIT` tries per window per process; a
restart forgets. Behind a reverse proxy every operator has the proxy's address and shares one
count (X-Forwarded-For is not trusted: any client can write it). Bounded: at most `MAX_CLIENTS`
addresses are remembered, the ones seen longest ago forgotten first.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

LIMIT = 5  # wrong tokens per client per window
WINDOW = 60.0  # seconds
MAX_CLIENTS = 10_000


@dataclass
class SigninThrottle:
    limit: int = LIMIT
    window: float = WINDOW
    max_clients: int = MAX_CLIENTS
    _failures: OrderedDict[str, deque[datetime]] = field(default_factory=OrderedDict)

    def retry_after(self, client: str, now: datetime) -> int | None:
        """Whole seconds until `client` may try again; None when it may now."""
        recent = self._recent(client, now)
        if len(recent) < self.limit:
            return None
        free_at = recent[0] + timedelta(seconds=self.window)
        return max(1, math.ceil((free_at - now).total_seconds()))

    def failed(self, client: str, now: datetime) -> None:
        recent = self._recent(client, now)
        recent.append(now)  # the deque keeps the last `limit`: all that decides
        self._failures[client] = recent
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str, now: datetime) -> deque[datetime]:
        recent = self._failures.get(client) or deque(maxlen=self.limit)
        while recent and (now - recent[0]).total_seconds() >= self.window:
            recent.popleft()
        return recent
