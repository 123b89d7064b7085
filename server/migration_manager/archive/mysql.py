"""Archive SQL for MariaDB / MySQL."""

from __future__ import annotations


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def before_copy(table: str) -> list[str]:
    # DDL auto-commits, so no lock can span the copy and the DROP: a write landing in between (the
    # time of one statement) is not in the archive. Said in docs/architecture.md.
    return []


def update_from(table: str, archive: str, keys: list[str], columns: list[str]) -> str:
    sets = ", ".join(f"_t.{quote(c)} = _a.{quote(c)}" for c in columns)
    match = " AND ".join(f"_t.{quote(k)} = _a.{quote(k)}" for k in keys)
    return f"UPDATE {quote(table)} AS _t JOIN {quote(archive)} AS _a ON {match} SET {sets}"


def insert_select(table: str, archive: str, columns: list[str], keys: list[str]) -> str:
    names = ", ".join(quote(c) for c in columns)
    picked = ", ".join(f"_a.{quote(c)}" for c in columns)
    sql = f"INSERT INTO {quote(table)} ({names}) SELECT {picked} FROM {quote(archive)} AS _a"
    if keys:
        match = " AND ".join(f"_t.{quote(k)} = _a.{quote(k)}" for k in keys)
        sql += f" WHERE NOT EXISTS (SELECT 1 FROM {quote(table)} AS _t WHERE {match})"
    return sql


def after_insert(engine, table: str, columns: list[str]) -> list[str]:
    return []  # AUTO_INCREMENT moves past explicitly inserted ids by itself
