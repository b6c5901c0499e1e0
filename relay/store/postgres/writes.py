"""A record's writes (the run's state, the task's outcome, the transition, the deliveries, the
wake-up) as ONE statement: each a data-modifying CTE made of its named statement in
queries.sql, its parameters renumbered. One round trip instead of one per row: on this
machine each round trip costs ~0.1 ms of the relay's CPU (docs/benchmarks.md, "PostgreSQL
driver"). asyncpg prepares each shape of statement once and keeps it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from relay.store.postgres.queries import SQL

_PARAM = re.compile(r"\$(\d+)")


@dataclass
class Writes:
    """The pieces of one statement, added in order; `statement()` joins them."""

    parts: list[tuple[str, str]] = field(default_factory=list)  # (CTE name, statement name)
    params: list[Any] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)  # CTE names whose RETURNING id counts

    def add(self, name: str, params: tuple[Any, ...] | list[Any]) -> None:
        cte = f"w{len(self.parts)}"
        self.parts.append((cte, name))
        self.params.extend(params)
        if name == "insert_delivery":
            self.deliveries.append(cte)

    def statement(self) -> str:
        return _compose(tuple(name for _, name in self.parts))


@lru_cache(maxsize=256)
def _compose(names: tuple[str, ...]) -> str:
    """WITH w0 AS (...), w1 AS (...) SELECT ARRAY(ids written), (woken). The pg_notify CTE is
    a SELECT: it runs only if referenced, hence the count in the answer."""
    ctes, offset, written, woken = [], 0, [], "0"
    for n, name in enumerate(names):
        sql = SQL[name]
        count = max((int(m) for m in _PARAM.findall(sql)), default=0)
        ctes.append(f"w{n} AS ({_shift(sql, offset)})")
        offset += count
        if name == "insert_delivery":
            written.append(f"SELECT id FROM w{n}")
        elif name == "notify_due":
            woken = f"(SELECT count(*) FROM w{n})"
    ids = f"ARRAY({' UNION ALL '.join(written)})" if written else "ARRAY[]::text[]"
    return f"WITH {', '.join(ctes)} SELECT {ids}, {woken}"


def _shift(sql: str, offset: int) -> str:
    """$1, $2... -> $(1+offset), $(2+offset)..."""
    return _PARAM.sub(lambda m: f"${int(m[1]) + offset}", sql)
