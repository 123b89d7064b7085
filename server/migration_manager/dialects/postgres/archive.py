"""Archive SQL for PostgreSQL."""

from __future__ import annotations

from ...archive import differs, insert_missing, key_match
from . import DIALECT

quote = DIALECT.quote  # the dialect's one quote(), for the SQL below and for archive/plan.py


def before_copy(table: str) -> list[str]:
    # SHARE blocks writers until the transaction ends (the DROP follows in it): no write made
    # between the copy and the drop can be missing from the archive. Readers are not blocked.
    return [f"LOCK TABLE {quote(table)} IN SHARE MODE"]


def update_from(table: str, archive: str, keys: list[str], columns: list[str]) -> str:
    sets = ", ".join(f"{quote(c)} = _a.{quote(c)}" for c in columns)
    changed = differs(quote, columns, "{t} IS DISTINCT FROM {a}")  # NULL-safe; SQLite 3.39+ too
    return (
        f"UPDATE {quote(table)} AS _t SET {sets} FROM {quote(archive)} AS _a WHERE {key_match(quote, keys)} "
        f"AND {changed}"
    )


def insert_select(table: str, archive: str, columns: list[str], unique: list[list[str]]) -> str:
    # OVERRIDING SYSTEM VALUE: the archived ids go back as they were, also into GENERATED ALWAYS identities.
    return insert_missing(quote, table, archive, columns, unique, overriding="OVERRIDING SYSTEM VALUE ")


def after_insert(engine, table: str, columns: list[str]) -> list[str]:
    """Serial / identity sequences past the restored ids, so the next insert does not collide."""
    statements = []
    for column in columns:
        found = engine.query("SELECT pg_get_serial_sequence(%s, %s)", [quote(table), column])
        if found and found[0][0]:
            statements.append(
                f"SELECT setval('{found[0][0]}', max({quote(column)})) FROM {quote(table)} "
                f"HAVING max({quote(column)}) IS NOT NULL"
            )
    return statements
