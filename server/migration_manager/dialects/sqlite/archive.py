"""Archive SQL for SQLite (UPDATE ... FROM needs SQLite 3.33, IS DISTINCT FROM 3.39)."""

from __future__ import annotations

from ...archive import insert_missing
from ..postgres.archive import update_from  # the same UPDATE ... FROM form
from . import DIALECT

quote = DIALECT.quote  # the dialect's one quote(), for the SQL below and for archive/plan.py

__all__ = ["after_insert", "before_copy", "insert_select", "quote", "update_from"]


def before_copy(table: str) -> list[str]:
    return []  # BEGIN IMMEDIATE already keeps every other writer out until the migration commits


def insert_select(table: str, archive: str, columns: list[str], unique: list[list[str]]) -> str:
    return insert_missing(quote, table, archive, columns, unique)


def after_insert(engine, table: str, columns: list[str]) -> list[str]:
    return []  # rowids continue after the largest one by themselves
