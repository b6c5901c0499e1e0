"""Untrusted JSON in: bytes -> a value every later stage can hold, or BadJson saying why.

`json.loads` alone accepts what breaks the relay later: nesting deep enough to exhaust the
stack (RecursionError), integers of thousands of digits (Python's int-from-string limit
raises ValueError; past 64 bits SQLite cannot bind them), numbers that overflow to infinity
and NaN (not JSON at all; `json.dumps` would write them back out), lone surrogates from
`\\ud800` escapes (not Unicode: encoding them to UTF-8 fails, in SQLite for one), and NUL
characters (cut strings short in C libraries and logs). Every body a client sends goes
through `loads`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from relay.errors import BadJson

MAX_DEPTH = 64
MAX_INT = 2**63 - 1  # what SQLite (and PostgreSQL's bigint) can hold
_UNSAFE = re.compile("[\x00\ud800-\udfff]")  # a surrogate left after decoding is a lone one
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # \u0000, \ud800-\udfff
# the decoder lets UTF-8-encoded surrogates (ED A0-BF ..) through as well
_UNSAFE_BYTES = re.compile(_UNSAFE_ESCAPE.pattern.encode() + rb"|\xed[\xa0-\xbf]")


def loads(raw: bytes | str) -> Any:
    """Raises BadJson naming the problem (and where, as a path like $.output.url)."""
    try:
        value = _decode(raw)
        _check_shape(value, 0)
    except (ValueError, _Unfit):
        # a number out of range, or nesting too deep: the slow path says which and where
        # (int() refuses a number past 4,300 digits with a ValueError)
        return _checked_loads(raw)
    if _may_hold_unsafe_text(raw):
        _check(value)
    return value


def _decode(raw: bytes | str, *, numbers: bool = False) -> Any:
    """`numbers`: each number through a hook that names one out of range (slower)."""
    try:
        if numbers:
            return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
        return json.loads(raw, parse_constant=_constant)
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise BadJson(f"malformed JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"malformed JSON: {exc}") from None


def _checked_loads(raw: bytes | str) -> Any:
    """Every number through the hooks and every string looked at: for a body known to be bad."""
    value = _decode(raw, numbers=True)
    _check(value)
    return value


class _Unfit(Exception):
    """The fast look found a number out of range or nesting too deep."""


def _check_shape(item: object, depth: int) -> None:
    """Depth and numbers in one pass over the containers, no path kept: the common case is a
    clean body, and this costs less than parsing it."""
    if type(item) is dict:
        children: Iterable[object] = item.values()
    elif type(item) is list:
        children = item
    else:
        children = (item,) if depth == 0 else ()
    if depth == MAX_DEPTH:
        raise _Unfit
    for child in children:
        kind = type(child)
        if kind is dict or kind is list:
            _check_shape(child, depth + 1)
        elif kind is int:
            if not -MAX_INT <= child <= MAX_INT:  # type: ignore[operator]
                raise _Unfit
        elif kind is float and child - child != 0:  # type: ignore[operator]
            raise _Unfit  # infinity (1e400 overflows)


def _may_hold_unsafe_text(raw: bytes | str) -> bool:
    """False when no string in the document can hold a NUL or a lone surrogate: in UTF-8 JSON
    (the strict decoder refuses raw control characters) they can only come from \\u escapes
    or surrogates encoded as UTF-8. Saves walking every string of a clean body."""
    if isinstance(raw, str):
        return _UNSAFE.search(raw) is not None or _UNSAFE_ESCAPE.search(raw) is not None
    if json.detect_encoding(raw) != "utf-8":
        return True
    return _UNSAFE_BYTES.search(raw) is not None


def _int(text: str) -> int:
    # the length first: int() itself refuses (ValueError) past 4,300 digits
    number = int(text) if len(text) <= 20 else None
    if number is None or abs(number) > MAX_INT:
        raise BadJson(f"JSON number out of range (beyond 64 bits): {_cut(text)}")
    return number


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadJson(f"JSON number out of range: {_cut(text)}")
    return number


def _constant(name: str) -> float:
    raise BadJson(f"malformed JSON: {name} is not a JSON value")


def _check(value: object) -> None:
    """Depth, and every string (keys too), without recursion."""
    stack: list[tuple[object, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth == MAX_DEPTH:
            raise BadJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(key, str):
                _check_text(key, path)
            stack.append((child, depth + 1, (*path, key)))


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    found = _UNSAFE.search(text)
    if found is not None:
        char = found.group()
        what = "a NUL character" if char == "\0" else "a lone surrogate"
        raise BadJson(f"JSON string with {what} (\\u{ord(char):04x}) at {_where(path)}")


def _where(path: tuple[str | int, ...]) -> str:
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return _cut(where, 80)


def _cut(text: str, keep: int = 20) -> str:
    return text if len(text) <= keep + 10 else f"{text[:keep]}... ({len(text)} characters)"
