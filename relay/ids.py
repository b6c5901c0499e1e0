"""Record ids: time-ordered, so inserts land at the end of the store's indexes.

The pure stages (diff, plan) draw no id themselves: an `IdFactory` is passed in, `new_id` by
the orchestrators, a counter in tests, so the same input gives the same output.

A UUIDv7 layout (RFC 9562) as 32 hex characters, like `uuid4().hex` before: 48 bits of
Unix milliseconds, then 74 random bits. Random ids put every insert on a different B-tree
page, and each commit then writes (and fsyncs) many pages; time-ordered ones share the last
page (docs/benchmarks.md measures the difference).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

IdFactory = Callable[[], str]  # a fresh record id each call

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


def new_id() -> str:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))  # 80 bits; 74 of them are kept
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | _VERSION | rand_a << 64 | _VARIANT | rand_b
    return f"{value:032x}"
