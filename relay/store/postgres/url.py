"""`postgresql://user@host:port/db?schema=NAME&pool=N`: the relay's own query parameters taken
off the URL, the rest handed to the driver as it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from relay.errors import StoreError

_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")  # a plain identifier: no quoting games
DEFAULT_POOL = 10  # connections per process; PostgreSQL's default max_connections is 100


@dataclass(frozen=True)
class Target:
    dsn: str  # the URL without schema= and pool=
    schema: str
    pool: int


def parse_url(url: str) -> Target:
    """Raises StoreError (naming the parameter, never the password) on a bad value."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"not a PostgreSQL URL: scheme {parts.scheme!r}")
    params, rest = dict(parse_qsl(parts.query, keep_blank_values=True)), []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in ("schema", "pool"):
            rest.append((key, value))
    schema = params.get("schema", "public")
    if not _SCHEMA.match(schema):
        raise StoreError(f"schema={schema!r}: a PostgreSQL schema name is letters, digits and _")
    pool = _pool_size(params.get("pool", str(DEFAULT_POOL)))
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return Target(dsn, schema, pool)


def _pool_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise StoreError(f"pool={text!r}: the pool size is a whole number from 1 to 1000")
    return int(text)
