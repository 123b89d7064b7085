"""SQLite: one writer for the whole database file; DDL takes the database write lock."""

from __future__ import annotations

from ...analysis.locks import LockImpact, Server

_REBUILDS = {"alter_column_type", "set_not_null", "drop_not_null", "add_constraint", "drop_constraint"}


def lock_impact(op, server: Server, schema=None) -> LockImpact:
    kind = op.kind
    return LockImpact(
        table=op.table,
        lock="database write lock",
        blocks_reads=False,
        blocks_writes=True,
        rewrites_table=kind in _REBUILDS,
        builds_index=kind == "create_index",
        explanation="SQLite has one writer: other writers wait until the transaction commits (readers go on in "
        "WAL mode)"
        + (
            "; SQLite changes this by rebuilding the table (create new, copy, drop, rename)"
            if kind in _REBUILDS
            else ""
        ),
    )
