"""Which pending migrations apply sends together (Runner.apply_together, where the server can: caps.pipelined).

Those whose every statement works on tables this same apply creates (empty, and known to no other session): they
run in milliseconds and wait for no lock, so the progress, which announces each as the one before it commits, never
hides a slow one behind it, and nobody else's traffic can stall in the queue. A migration that touches a table that
was already there (however small) runs on its own, its progress live, as every migration did before: a plan of many
small migrations on a fresh database (CI, a new environment) is the case that needs speed, and where it is safe.
"""

from __future__ import annotations

import re

from ..analysis.model import Operation
from ..migrations.model import Migration

# Schema changes (Operation.is_ddl) cost the same on an empty table whatever else the database holds, except these:
# views read other tables, and a renamed table's new name is not followed here. Not DDL: anything that reads or
# writes rows (INSERT ... SELECT, UPDATE, DELETE) or changes the session. Nor CREATE TABLE ... AS, nor what the
# analysis cannot read (unread).
_READS_OTHERS = frozenset({"create_view", "drop_view", "rename_table"})
# CREATE TABLE ... INHERITS (parent) / PARTITION OF parent / (LIKE other): it reads or locks another table
_ANOTHER_TABLE = re.compile(r"\b(INHERITS|PARTITION\s+OF|LIKE)\b", re.IGNORECASE)


def on_new_tables(migrations: list[Migration], dialect: str, existing: set[str]) -> list[bool]:
    """Per migration: True when each of its statements changes only a table an earlier statement of the plan
    created empty (CREATE TABLE with its columns, of a name not in `existing`: the live tables), and any table it
    references is one of those too."""
    from ..analysis.operations import script_operations  # sqlglot: apply has loaded it already (the checks)

    created: set[str] = set()
    verdicts = []
    for migration in migrations:
        quick = not migration.up.is_python and bool(migration.up.statements)
        for op in script_operations(migration.up.statements, dialect) if quick else []:
            quick = quick and _on_created(op, created, existing)
            if quick and op.kind == "create_table":
                created.add(op.table)
        verdicts.append(quick)
    return verdicts


def _on_created(op: Operation, created: set[str], existing: set[str]) -> bool:
    if not op.is_ddl or op.kind in _READS_OTHERS or op.unread or op.table is None or op.schema_name is not None:
        return False
    if op.kind == "create_table":  # empty only when it lists its columns (not AS SELECT / LIKE), and is new
        if _ANOTHER_TABLE.search(op.statement):  # a child or partition locks its parent
            return False
        new = bool(op.column_specs) and op.table not in created and op.table not in existing
        return new and all(_references_created(c, created | {op.table}) for c in op.constraints)
    return op.table in created and _references_created(op, created)


def _references_created(op: Operation, created: set[str]) -> bool:
    """A foreign key locks the table it references: only one of the plan's new tables, which nobody else knows."""
    return op.ref_table is None or op.ref_table in created
