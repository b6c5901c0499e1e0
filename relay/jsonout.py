"""The relay's one compact JSON encoding, for what it stores and what its webhooks send: a
payload read back from the store goes out as the very text it was stored as (the same bytes,
the same signature) only because both are written here."""

from __future__ import annotations

import json
from typing import Any

import orjson

_stdlib = json.JSONEncoder(separators=(",", ":")).encode


def compact(value: Any) -> str:
    """What json.dumps(value, separators=(",", ":")) writes, in a tenth of the time, but with
    text beyond printable ASCII as UTF-8 rather than \\u escapes and exponents unpadded (1e-7,
    not 1e-07): any JSON reader reads either back the same. (It would write NaN as null, but
    relay.jsonin lets none in.) What orjson refuses, such as an integer beyond 64 bits or a key
    that is not a string, is written by the standard library."""
    try:
        return orjson.dumps(value, default=_named_tuple).decode()
    except orjson.JSONEncodeError:
        return _stdlib(value)


def _named_tuple(value: object) -> list[Any]:
    """A Link: orjson writes plain tuples as arrays, not their subclasses."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)
