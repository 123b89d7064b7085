"""PostgreSQL lock model: table lock mode per operation and server version.

Reads take ACCESS SHARE, INSERT/UPDATE/DELETE take ROW EXCLUSIVE; a DDL lock blocks them when
its mode conflicts with theirs (the conflict table of "Explicit Locking", 13.3.1). Every lock
also waits behind open transactions on the table, and everything after it queues behind it.
"""

from __future__ import annotations

from ...analysis.locks import LockImpact, Server
from ...analysis.model import Operation

AE, SUE, SHARE, SRE, RS = "ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE", "ROW SHARE"
READ, WRITE = "ACCESS SHARE", "ROW EXCLUSIVE"

# Older servers whose lock behaviour differs from today's in ways worth telling (the impact report shows them).
REFERENCE_VERSIONS = {"postgresql": ["PostgreSQL 10.0", "PostgreSQL 11.0", "PostgreSQL 12.0"]}
CONFLICTS = {
    "ACCESS SHARE": {AE},
    RS: {"EXCLUSIVE", AE},
    WRITE: {SHARE, SRE, "EXCLUSIVE", AE},
    SUE: {SUE, SHARE, SRE, "EXCLUSIVE", AE},
    SHARE: {WRITE, SUE, SRE, "EXCLUSIVE", AE},
    SRE: {WRITE, SUE, SHARE, SRE, "EXCLUSIVE", AE},
    "EXCLUSIVE": {RS, WRITE, SUE, SHARE, SRE, "EXCLUSIVE", AE},
    AE: {"ACCESS SHARE", RS, WRITE, SUE, SHARE, SRE, "EXCLUSIVE", AE},
}

# ALTER COLUMN TYPE keeps the data when the new type is binary-coercible from the old one.
_WIDENING_FREE = {
    ("varchar", "varchar"),
    ("varchar", "text"),
    ("char", "varchar"),
    ("char", "text"),
    ("decimal", "decimal"),
    ("varbit", "varbit"),
    ("cidr", "inet"),
}


def conflicts(mode: str, other: str) -> bool:
    return other in CONFLICTS[mode]


def _claim(
    op, mode: str, explanation: str, *, safer: str | None = None, other: dict | None = None, **facts
) -> LockImpact:
    """The claim for `op` holding `mode` on its table (and `other` modes on other tables):
    it blocks reads/writes when any of its modes conflicts with theirs."""
    others = other or {}
    modes = [mode, *others.values()]
    return LockImpact(
        table=op.table,
        lock=mode,
        other_tables=others,
        explanation=explanation,
        safer=safer,
        blocks_reads=any(conflicts(m, READ) for m in modes),
        blocks_writes=any(conflicts(m, WRITE) for m in modes),
        **facts,
    )


def lock_impact(op, server: Server, schema=None) -> LockImpact:
    handler = HANDLERS.get(op.kind)
    if handler is None:
        return _claim(
            op,
            AE,
            "Not in the lock model: assume ACCESS EXCLUSIVE (blocks reads and writes).",
            known=False,
            safer="Run it with a short lock_timeout in a low-traffic window.",
        )
    return handler(op, server, schema)


def _add_column(op, server: Server, schema) -> LockImpact:
    volatile = bool(op.default_volatile)
    rewrite = op.default is not None and (volatile or not server.at_least(11))
    if rewrite:
        why = (
            "a volatile DEFAULT is evaluated for every existing row: full table rewrite under ACCESS EXCLUSIVE"
            if volatile
            else "before PostgreSQL 11 any DEFAULT rewrites the table"
        )
        return _claim(
            op,
            AE,
            why,
            rewrites_table=True,
            safer="Add the column without a default, backfill in batches, then SET DEFAULT.",
        )
    return _claim(
        op,
        AE,
        "catalog change only (a non-volatile default is stored in the catalog): brief, "
        "but it queues behind open transactions and everything queues behind it",
        safer="Run it with a short lock_timeout (and retry) so it never stalls traffic.",
    )


def _alter_column_type(op, server: Server, schema) -> LockImpact:
    if _binary_coercible(op, schema):
        return _claim(
            op,
            AE,
            "binary-coercible type change (e.g. a longer varchar, varchar to text): catalog only, no rewrite",
            safer="Run it with a short lock_timeout.",
        )
    return _claim(
        op,
        AE,
        "the table and its indexes are rewritten under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite",
        rewrites_table=True,
        builds_index=True,
        safer="Add a new column of the new type, backfill in batches, switch the code, then drop the old one.",
    )


def _binary_coercible(op, schema) -> bool:
    column = _schema_column(op, schema)
    new = (op.new_type or "").lower()
    if column is None or not new:
        return False
    from ...analysis.schema import ColumnType

    old_type, new_type = column.type, ColumnType.parse(new, "postgres")
    old_base, new_base = old_type.normalized.split("(")[0], new_type.normalized.split("(")[0]
    if (old_base, new_base) not in _WIDENING_FREE and old_type.normalized != new_type.normalized:
        return False
    return _length(new_type.normalized) >= _length(old_type.normalized) and _scale(new_type.normalized) == _scale(
        old_type.normalized
    )


def _length(normalized: str) -> float:
    inside = normalized.split("(")[1].rstrip(")").split(",") if "(" in normalized else []
    return float(inside[0]) if inside else float("inf")


def _scale(normalized: str) -> str:
    inside = normalized.split("(")[1].rstrip(")").split(",") if "(" in normalized else []
    return inside[1].strip() if len(inside) > 1 else "0"


def _schema_column(op, schema):
    table = schema.table(op.table) if schema is not None and op.table else None
    return table.column(op.column) if table is not None and op.column else None


def _set_not_null(op, server: Server, schema) -> LockImpact:
    if server.at_least(12) and _has_not_null_check(op, schema):
        return _claim(
            op,
            AE,
            "a validated CHECK (col IS NOT NULL) exists: PostgreSQL 12+ skips the scan",
            safer="Run it with a short lock_timeout.",
        )
    return _claim(
        op,
        AE,
        "every row is scanned for NULLs while ACCESS EXCLUSIVE is held",
        scans_table=True,
        safer="ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT; then SET NOT NULL "
        "(12+ skips the scan); then drop the check.",
    )


def _has_not_null_check(op, schema) -> bool:
    table = schema.table(op.table) if schema is not None else None
    column = (op.column or "").lower()
    return table is not None and any(
        c.kind == "check"
        and c.valid
        and "is not null" in (c.definition or "").lower()
        and column in (c.definition or "").lower()
        for c in table.constraints.values()
    )


def _add_constraint(op, server: Server, schema) -> LockImpact:
    kind = op.constraint_type
    if kind == "foreign_key":
        ref = {op.ref_table: SRE} if op.ref_table and op.ref_table != op.table else {}
        if op.not_valid:
            return _claim(
                op,
                SRE,
                "NOT VALID: no scan; SHARE ROW EXCLUSIVE on both tables blocks their writes briefly",
                other=ref,
                safer="Follow with VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE).",
            )
        return _claim(
            op,
            SRE,
            "every row is checked against the referenced table while SHARE ROW EXCLUSIVE blocks writes on both tables",
            other=ref,
            scans_table=True,
            safer="ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT.",
        )
    if kind in ("unique", "primary_key"):
        if op.detail == "using index":
            return _claim(
                op,
                AE,
                "USING INDEX: the index exists, only the catalog changes",
                safer="Run it with a short lock_timeout.",
            )
        return _claim(
            op,
            AE,
            "the unique index is built while ACCESS EXCLUSIVE is held",
            builds_index=True,
            scans_table=True,
            safer="CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX.",
        )
    if op.not_valid:
        return _claim(op, AE, "NOT VALID: catalog only, no scan", safer="Follow with VALIDATE CONSTRAINT.")
    return _claim(
        op,
        AE,
        "every row is checked while ACCESS EXCLUSIVE is held",
        scans_table=True,
        safer="ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE).",
    )


def _validate_constraint(op, server: Server, schema) -> LockImpact:
    return _claim(op, SUE, "scans the table under SHARE UPDATE EXCLUSIVE: reads and writes go on", scans_table=True)


def _create_index(op, server: Server, schema) -> LockImpact:
    if op.concurrently:
        return _claim(
            op,
            SUE,
            "CONCURRENTLY: reads and writes go on; it waits for older transactions and "
            "cannot run in a transaction block (an interrupted build leaves an INVALID index: drop it "
            "and retry)",
            builds_index=True,
            scans_table=True,
            in_transaction=False,
        )
    return _claim(
        op,
        SHARE,
        "the index is built under SHARE: reads go on, writes wait for the whole build",
        builds_index=True,
        scans_table=True,
        safer="CREATE INDEX CONCURRENTLY (outside a transaction).",
    )


def _drop_index(op, server: Server, schema) -> LockImpact:
    if op.concurrently:
        return _claim(op, SUE, "CONCURRENTLY: waits for queries using the index, blocks nothing", in_transaction=False)
    return _claim(op, AE, "ACCESS EXCLUSIVE on the table (brief)", safer="DROP INDEX CONCURRENTLY.")


def _brief_exclusive(what: str, safer: str = "Run it with a short lock_timeout (and retry).") -> callable:
    def handler(op, server: Server, schema) -> LockImpact:
        return _claim(
            op,
            AE,
            f"{what}: ACCESS EXCLUSIVE, brief, but it queues behind open transactions and everything queues behind it",
            safer=safer,
        )

    return handler


def _session_setting(op, server: Server, schema) -> LockImpact:
    return LockImpact(lock="none", blocks_reads=False, blocks_writes=False, explanation="a session setting")


def _create_table(op, server: Server, schema) -> LockImpact:
    refs = {c.ref_table: SRE for c in op.constraints if c.ref_table and c.ref_table != op.table}
    return LockImpact(
        table=op.table,
        lock=AE,
        other_tables=refs,
        blocks_reads=False,
        blocks_writes=bool(refs),
        explanation="a new table: nobody uses it yet"
        + (
            "; its foreign keys take SHARE ROW EXCLUSIVE on the referenced tables (their writes wait, briefly)"
            if refs
            else ""
        ),
    )


def _drop_constraint(op, server: Server, schema) -> LockImpact:
    constraint = _schema_constraint(op, schema)
    ref = constraint.ref_table if constraint is not None and constraint.kind == "foreign_key" else None
    others = {ref: AE} if ref and ref != op.table else {}
    return _claim(
        op,
        AE,
        "catalog change only"
        + (f"; dropping a foreign key also takes ACCESS EXCLUSIVE on {ref} (its triggers go)" if others else ""),
        other=others,
        safer="Run it with a short lock_timeout (and retry).",
    )


def _drop_table(op, server: Server, schema) -> LockImpact:
    table = schema.table(op.table) if schema is not None and op.table else None
    related = set()
    if table is not None:
        related |= {c.ref_table for c in table.constraints.values() if c.kind == "foreign_key"}
        related |= {
            t.name
            for t in schema.tables.values()
            for c in t.constraints.values()
            if c.kind == "foreign_key" and (c.ref_table or "").lower() == table.name.lower()
        }
    others = {name: AE for name in sorted(filter(None, related)) if name.lower() != op.table.lower()}
    return _claim(
        op,
        AE,
        "the table and its data are removed"
        + (f"; tables linked by foreign keys are locked too ({', '.join(others)})" if others else ""),
        other=others,
        safer="Archive or back up the table first.",
    )


def _schema_constraint(op, schema):
    table = schema.table(op.table) if schema is not None and op.table else None
    return table.constraints.get(op.constraint_name.lower()) if table is not None and op.constraint_name else None


def _dml(op, server: Server, schema) -> LockImpact:
    if op.kind == "insert":
        return _claim(op, WRITE, "ROW EXCLUSIVE: reads and other writes go on")
    return _claim(
        op,
        WRITE,
        "ROW EXCLUSIVE and row locks: reads go on; writes to the same rows wait; "
        "one big statement holds its row locks until commit",
        scans_table=True,
        safer="Update in batches of a few thousand rows, committing between batches.",
    )


HANDLERS = {
    "add_column": _add_column,
    "alter_column_type": _alter_column_type,
    "set_not_null": _set_not_null,
    "add_constraint": _add_constraint,
    "validate_constraint": _validate_constraint,
    "create_index": _create_index,
    "drop_index": _drop_index,
    "create_table": _create_table,
    "drop_column": _brief_exclusive(
        "catalog change only (space is reclaimed later)", "Stop using the column in code first; archive its data."
    ),
    "drop_not_null": _brief_exclusive("catalog change only"),
    "set_default": _brief_exclusive("catalog change only"),
    "drop_default": _brief_exclusive("catalog change only"),
    "rename_column": _brief_exclusive(
        "catalog change only, but running code that uses the old name breaks",
        "Expand/contract: add the new column (or a view), move the code, drop the old.",
    ),
    "rename_table": _brief_exclusive(
        "catalog change only, but running code that uses the old name breaks",
        "Expand/contract: a view with the old name while the code moves.",
    ),
    "drop_constraint": _drop_constraint,
    "drop_table": _drop_table,
    "truncate": _brief_exclusive("every row is removed (new empty files)", "Archive or back up the rows first."),
    "update": _dml,
    "delete": _dml,
    "insert": _dml,
    "set": _session_setting,
    "set_lock_timeout": _session_setting,
    "set_statement_timeout": _session_setting,
}


def create_trigger(table: str) -> LockImpact:
    """CREATE TRIGGER (and DROP TRIGGER) on `table`: SHARE ROW EXCLUSIVE, catalog only (the parser does not read it;
    the shadow copy's sync triggers are claimed here)."""
    op = Operation(kind="other", table=table)
    return _claim(
        op, SRE, "SHARE ROW EXCLUSIVE: reads go on, writes wait; catalog only; queues behind open transactions"
    )
