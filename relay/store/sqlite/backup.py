"""`relay backup FILE`: a consistent copy of a SQLite store, safe while the relay serves.

sqlite3's online backup API, copying every page in one step: in WAL mode that step is one read
transaction, which sees one committed moment of the file and blocks no writer (a copy made in
several steps restarts whenever another process writes between them, and under steady ingest
might never end). The copy is written next to FILE and renamed onto it once checked, so FILE is
either absent or a whole, checked database."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from relay.errors import StoreError


@dataclass(frozen=True)
class Copied:
    pages: int
    bytes: int
    schema_version: int  # migrations applied (PRAGMA user_version)


def backup(database: str, target: str) -> Copied:
    source, dest = Path(database), Path(target)
    if not source.is_file():
        raise StoreError(f"no database at {database}")
    if dest.exists():
        raise StoreError(f"{target} exists already: remove it or name another file")
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        copied = _copy(source, partial)
        os.replace(partial, dest)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up {database} to {target}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return copied


def _copy(source: Path, partial: Path) -> Copied:
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: every page in one step (see the module's docstring)
            # a standalone file: no -wal beside it for a restore to forget
            dst.execute("PRAGMA journal_mode=DELETE")
            problems = dst.execute("PRAGMA quick_check").fetchall()
            if problems != [("ok",)]:
                raise sqlite3.DatabaseError(f"the copy failed its check: {problems[:3]}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            version = dst.execute("PRAGMA user_version").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    return Copied(pages, partial.stat().st_size, version)
