"""SQLite scratch copies: the online backup API into a temporary file (a consistent copy even
while other connections write; a plain file copy could catch a half-written page or miss the WAL).
A schema-only copy re-runs the CREATE statements SQLite keeps in sqlite_master, in the order it stored them.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from ...clone import ScratchCopy
from ...errors import CopyFailed
from ...urls import DatabaseURL
from .. import Engine
from . import DIALECT

quote = DIALECT.quote


def make_copy(source: DatabaseURL, *, schema_only: bool = False) -> ScratchCopy:
    folder = Path(tempfile.mkdtemp(prefix="mm-test-"))
    target = folder / Path(source.database).name
    copy = ScratchCopy(
        url=f"sqlite:///{target}",
        name=str(target),
        method="SQLite online backup API",
        drop=lambda: shutil.rmtree(folder, ignore_errors=True),
    )
    if not Path(source.database).exists():  # not created yet: apply would start from an empty database
        copy.method = "empty (the database file does not exist yet)"
        return copy
    try:
        with (
            closing(sqlite3.connect(f"file:{source.database}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(target)) as dst,
        ):
            if schema_only:
                copy.method = "schema only (the CREATE statements of sqlite_master; no rows)"
                _copy_schema(src, dst)
            else:
                src.backup(dst)
    except sqlite3.Error as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise CopyFailed(
            f"Could not copy {source.database} with the SQLite backup API: {exc}",
            state="The environment's database was not changed; no copy was left behind.",
            next_step="Check that the file is readable.",
        ) from None
    return copy


def _copy_schema(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    # sqlite_* objects (autoindexes, sqlite_sequence) come back by themselves with their tables.
    rows = src.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    for (sql,) in rows:
        try:
            dst.execute(sql)
        except sqlite3.OperationalError as exc:
            if "already exists" not in str(exc):  # a virtual table's shadow tables: made with the virtual table
                raise


def fingerprint(engine: Engine, table: str, columns: list[str]) -> str:
    # SQLite has no hash function in SQL: hash each row here and add the hashes (order-independent).
    count, total = 0, 0
    cursor = engine.conn.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}")
    for row in cursor:
        count += 1
        total += int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")
    return f"{count}:{total}"


def constraint_problems(engine: Engine) -> list[str]:
    problems = [
        f"foreign key: row {rowid} of {table} points to no row of {parent}"
        for table, rowid, parent, _ in engine.query("PRAGMA foreign_key_check")
    ]
    damage = [r[0] for r in engine.query("PRAGMA quick_check") if r[0] != "ok"]
    return problems + [f"quick_check: {line}" for line in damage]
