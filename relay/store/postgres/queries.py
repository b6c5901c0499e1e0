"""The PostgreSQL store's statements by name, read once from queries.sql."""

from __future__ import annotations

from importlib.resources import files

from relay.store.sqlite.queries import parse

SQL = parse(files("relay.store.postgres").joinpath("queries.sql").read_text(encoding="utf-8"))
