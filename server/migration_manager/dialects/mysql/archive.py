"""Archive SQL for MariaDB / MySQL."""

from __future__ import annotations

from ...archive import differs, insert_missing, key_match
from . import DIALECT

quote = DIALECT.quote  # the dialect's one quote(), for the SQL below and for archive/plan.py


def before_copy(table: str) -> list[str]:
    # DDL auto-commits, so no lock can span the copy and the DROP: a write landing in between (the
    # time of one statement) is not in the archive. Said in docs/architecture.md.
    return []


def update_from(table: str, archive: str, keys: list[str], columns: list[str]) -> str:
    sets = ", ".join(f"_t.{quote(c)} = _a.{quote(c)}" for c in columns)
    changed = differs(quote, columns, "NOT ({t} <=> {a})")  # NULL-safe
    return f"UPDATE {quote(table)} AS _t JOIN {quote(archive)} AS _a ON {key_match(quote, keys)} SET {sets} WHERE {changed}"


def insert_select(table: str, archive: str, columns: list[str], unique: list[list[str]]) -> str:
    return insert_missing(quote, table, archive, columns, unique)


def after_insert(engine, table: str, columns: list[str]) -> list[str]:
    return []  # AUTO_INCREMENT moves past explicitly inserted ids by itself
