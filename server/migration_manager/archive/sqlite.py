"""Archive SQL for SQLite (UPDATE ... FROM needs SQLite 3.33)."""

from __future__ import annotations

from .postgres import quote, update_from  # same quoting and UPDATE ... FROM form

__all__ = ["after_insert", "before_copy", "insert_select", "quote", "update_from"]


def before_copy(table: str) -> list[str]:
    return []  # BEGIN IMMEDIATE already keeps every other writer out until the migration commits


def insert_select(table: str, archive: str, columns: list[str], keys: list[str]) -> str:
    names = ", ".join(quote(c) for c in columns)
    picked = ", ".join(f"_a.{quote(c)}" for c in columns)
    sql = f"INSERT INTO {quote(table)} ({names}) SELECT {picked} FROM {quote(archive)} AS _a"
    if keys:
        match = " AND ".join(f"_t.{quote(k)} = _a.{quote(k)}" for k in keys)
        sql += f" WHERE NOT EXISTS (SELECT 1 FROM {quote(table)} AS _t WHERE {match})"
    return sql


def after_insert(engine, table: str, columns: list[str]) -> list[str]:
    return []  # rowids continue after the largest one by themselves
