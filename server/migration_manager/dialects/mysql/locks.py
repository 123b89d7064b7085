"""MySQL / MariaDB (InnoDB) lock model: the best ALGORITHM and LOCK level per operation.

Every ALTER also takes a brief exclusive metadata lock at its start and end: it queues behind
any open transaction that touched the table, and every later query queues behind it, so the
LOCK= level says what is blocked *during* the change, not while the metadata lock waits.
MariaDB facts are proven on the live server (tests/analysis/test_locks_mysql.py); the MySQL
8.0 rows follow its "Online DDL Operations" page.
"""

from __future__ import annotations

import re

from ...analysis.locks import LockImpact, Server
from ...analysis.model import Operation

RANK = ["INSTANT", "NOCOPY", "INPLACE", "COPY"]
# Older servers whose lock behaviour differs from today's in ways worth telling (the impact report shows them).
REFERENCE_VERSIONS = {
    "mariadb": ["10.3.0-MariaDB", "10.4.0-MariaDB"],
    "mysql": ["MySQL 8.0.11", "MySQL 8.0.12", "MySQL 8.0.29"],
}
_QUEUE = "the brief exclusive metadata lock at start and end still queues behind open transactions"


def _claim(op, algorithm: str, lock: str, explanation: str, *, safer: str | None = None, **facts) -> LockImpact:
    return LockImpact(
        table=op.table,
        algorithm=algorithm,
        lock=f"metadata lock, LOCK={lock}",
        blocks_reads=lock == "EXCLUSIVE",
        blocks_writes=lock in ("SHARED", "EXCLUSIVE"),
        explanation=explanation,
        safer=safer,
        in_transaction=False,
        **facts,
    )


def lock_impact(op, server: Server, schema=None) -> LockImpact:
    kind = op.kind
    mariadb = server.flavor == "mariadb"
    handler = HANDLERS.get(kind)
    if handler is None:
        return _claim(
            op,
            "COPY",
            "EXCLUSIVE",
            "Not in the lock model: assume the table is locked.",
            known=False,
            safer="Add ALGORITHM=INPLACE, LOCK=NONE so the server refuses instead of blocking.",
        )
    return handler(op, server, mariadb, schema)


def _instant(mariadb_since: tuple, mysql_since: tuple, what: str):
    """INSTANT from the given versions; before that an online rebuild (INPLACE, LOCK=NONE)."""

    def handler(op, server: Server, mariadb: bool, schema) -> LockImpact:
        if server.at_least(*(mariadb_since if mariadb else mysql_since)):
            return _claim(
                op,
                "INSTANT",
                "NONE",
                f"{what}: metadata only; {_QUEUE}",
                safer="SET SESSION lock_wait_timeout to a few seconds and retry.",
            )
        return _claim(
            op, "INPLACE", "NONE", f"{what}: online table rebuild (reads and writes go on)", rewrites_table=True
        )

    return handler


# MariaDB fills the existing rows of an INSTANT column by evaluating its DEFAULT once (RAND() and NOW()
# give every old row the same value); these functions it refuses to evaluate once, so it copies the
# table (proven on the server). MySQL 8.0 takes no expression DEFAULT instantly (vitess #16024).
_PER_ROW_DEFAULT = re.compile(r"\b(UUID|UUID_SHORT|SYS_GUID|SYSDATE|RANDOM_BYTES)\s*\(", re.IGNORECASE)


def _add_column(op, server: Server, mariadb: bool, schema) -> LockImpact:
    default = op.default or ""
    if _PER_ROW_DEFAULT.search(default) or (not mariadb and default.startswith("(")):
        return _claim(
            op,
            "COPY",
            "SHARED",
            f"DEFAULT {default} is computed for every existing row: the table is "
            "copied row by row, reads go on, writes wait for the copy",
            rewrites_table=True,
            safer="Add the column without the DEFAULT (instant), SET DEFAULT separately, backfill old rows in batches.",
        )
    claim = _instant((10, 3), (8, 0, 12), "ADD COLUMN")(op, server, mariadb, schema)
    if mariadb and claim.algorithm == "INSTANT":
        return claim.model_copy(update={"default_evaluated_once": True})
    return claim


def _alter_column_type(op, server: Server, mariadb: bool, schema) -> LockImpact:
    if _same_type(op, schema):  # MODIFY that restates the type (to change NULL/DEFAULT/name)
        return _claim(op, "INSTANT", "NONE", f"the type does not change; {_QUEUE}")
    if _varchar_widening(op, schema):
        algorithm = "INSTANT" if mariadb and server.at_least(10, 4) else "INPLACE"
        return _claim(
            op,
            algorithm,
            "NONE",
            "a longer VARCHAR: metadata only"
            + ("" if mariadb else " while the length prefix stays the same size (255 bytes)"),
        )
    return _claim(
        op,
        "COPY",
        "SHARED",
        "the table is copied row by row: reads go on, writes wait for the copy",
        rewrites_table=True,
        builds_index=True,
        safer="pt-online-schema-change or gh-ost (copy in chunks, swap atomically), or a new column "
        "plus batched backfill.",
    )


def _types(op, schema) -> tuple[str, str] | None:
    """(current, new) normalized types of the column `op` changes, when the schema knows it."""
    from ...analysis.schema import ColumnType

    table = schema.table(op.table) if schema is not None and op.table else None
    column = table.column(op.column) if table is not None and op.column else None
    if column is None or not op.new_type:
        return None
    return column.type.normalized, ColumnType.parse(op.new_type, "mysql").normalized


def _same_type(op, schema) -> bool:
    types = _types(op, schema)
    return types is not None and types[0] == types[1]


def _varchar_widening(op, schema) -> bool:
    types = _types(op, schema)
    if types is None:
        return False
    old_type, new_type = types
    if not (old_type.startswith("varchar(") and new_type.startswith("varchar(")):
        return False
    return int(new_type[8:-1]) >= int(old_type[8:-1])


def _set_not_null(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return _claim(
        op,
        "INPLACE",
        "NONE",
        "online table rebuild that checks every row (reads and writes go on)",
        rewrites_table=True,
        scans_table=True,
    )


def _drop_not_null(op, server: Server, mariadb: bool, schema) -> LockImpact:
    if mariadb and server.at_least(10, 4):
        return _claim(op, "INSTANT", "NONE", f"metadata only; {_QUEUE}")
    return _claim(op, "INPLACE", "NONE", "online table rebuild (reads and writes go on)", rewrites_table=True)


def _create_index(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return _claim(
        op,
        "NOCOPY" if mariadb else "INPLACE",
        "NONE",
        "the index is built online: reads and writes go on"
        + ("; a UNIQUE index fails at the end if duplicates exist" if op.unique else ""),
        builds_index=True,
        scans_table=True,
    )


def _drop_index(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return _claim(op, "NOCOPY" if mariadb else "INPLACE", "NONE", f"metadata only; {_QUEUE}")


def _add_constraint(op, server: Server, mariadb: bool, schema) -> LockImpact:
    kind = op.constraint_type
    if kind == "unique":
        return _create_index(op, server, mariadb, schema)
    if kind == "primary_key":
        return _claim(
            op,
            "INPLACE",
            "NONE",
            "online rebuild around the new clustered index",
            rewrites_table=True,
            builds_index=True,
            scans_table=True,
        )
    if kind == "foreign_key":
        return _claim(
            op,
            "COPY",
            "SHARED",
            "with foreign_key_checks=1 the table is copied: writes wait",
            rewrites_table=True,
            scans_table=True,
            safer="SET foreign_key_checks=0 for the session makes it INPLACE/NOCOPY with LOCK=NONE, "
            "but then existing rows are not checked: run the orphan probe first.",
        )
    return _claim(
        op,
        "COPY",
        "SHARED",
        "a CHECK is verified by copying the table: writes wait",
        rewrites_table=True,
        scans_table=True,
        safer="Check the rows first; for a big table use pt-online-schema-change or gh-ost.",
    )


def _drop_constraint(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return _claim(op, "INSTANT" if mariadb else "INPLACE", "NONE", f"metadata only; {_QUEUE}")


def _exclusive(what: str, safer: str | None = None):
    def handler(op, server: Server, mariadb: bool, schema) -> LockImpact:
        return _claim(op, "INSTANT", "EXCLUSIVE", f"{what}: exclusive metadata lock, brief; {_QUEUE}", safer=safer)

    return handler


def _create_table(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return _claim(op, "INSTANT", "NONE", "a new table: nobody uses it yet")


def _dml(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return LockImpact(
        table=op.table,
        lock="row locks",
        blocks_reads=False,
        blocks_writes=True,
        scans_table=True,
        explanation="row locks until commit: writes to the same rows wait (reads go on: consistent snapshots)",
        safer="Update in batches of a few thousand rows, committing between batches.",
    )


def _session_setting(op, server: Server, mariadb: bool, schema) -> LockImpact:
    return LockImpact(lock="none", blocks_reads=False, blocks_writes=False, explanation="a session setting")


HANDLERS = {
    "set": _session_setting,
    "set_lock_timeout": _session_setting,
    "set_statement_timeout": _session_setting,
    "add_column": _add_column,
    "drop_column": _instant((10, 4), (8, 0, 29), "DROP COLUMN"),
    "rename_column": _instant((10, 4), (8, 0, 28), "RENAME COLUMN"),
    "set_default": _instant((10, 0), (5, 6), "SET DEFAULT"),
    "drop_default": _instant((10, 0), (5, 6), "DROP DEFAULT"),
    "alter_column_type": _alter_column_type,
    "set_not_null": _set_not_null,
    "drop_not_null": _drop_not_null,
    "create_index": _create_index,
    "drop_index": _drop_index,
    "add_constraint": _add_constraint,
    "drop_constraint": _drop_constraint,
    "rename_table": _exclusive("RENAME TABLE", "Running code that uses the old name breaks: a view eases the move."),
    "drop_table": _exclusive("DROP TABLE", "Archive or back up the table first."),
    "truncate": _exclusive("TRUNCATE", "Archive or back up the rows first."),
    "create_table": _create_table,
    "insert": _dml,
    "update": _dml,
    "delete": _dml,
}


def create_trigger(table: str) -> LockImpact:
    """CREATE TRIGGER (and DROP TRIGGER) on `table`: an exclusive metadata lock, brief (the parser does not read it;
    the shadow copy's sync triggers are claimed here)."""
    return _exclusive("CREATE TRIGGER")(Operation(kind="other", table=table), None, True, None)
