"""The SQLite store's statements by name, read once from queries.sql (the way procrastinate
keeps its queries): the file is the one place that lists what the store runs."""

from __future__ import annotations

import re
from importlib.resources import files

_NAME = re.compile(r"^-- ([a-z_]+) --$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """`-- name --` lines, each followed by its statement (comments allowed), to a dict."""
    parts = _NAME.split(text)  # [preamble, name, statement, name, statement, ...]
    names, statements = parts[1::2], [s.strip().removesuffix(";") for s in parts[2::2]]
    if len(set(names)) < len(names):
        raise ValueError(f"a statement name is used twice: {sorted(names)}")
    return dict(zip(names, statements, strict=True))


SQL = parse(files("relay.store.sqlite").joinpath("queries.sql").read_text(encoding="utf-8"))
