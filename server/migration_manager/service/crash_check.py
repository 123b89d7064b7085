"""After a crash: did the statement the history did not record as done actually complete?

A run records progress after each statement. If the process dies between the server finishing
a statement and that record (Flyway #1411: the server finished the ALTER, the runner recorded
nothing), the history says "k-1 done" while the schema already has statement k's effect, and a
plain retry fails on "already exists". We look at the live schema: every operation of statement
k either shows its effect (it completed), none does (it did not run), or we cannot tell.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..analysis.model import Operation
from ..analysis.operations import statement_operations
from ..analysis.schema import ColumnType, Snapshot, key, read_schema
from ..history import UNFINISHED_STATUSES, HistoryRow
from .context import Connection

Verdict = Literal["completed", "not-run", "unknown"]


class StatementCheck(BaseModel):
    """What the live schema says about the first statement the history does not record as done."""

    index: int
    statement: str
    verdict: Verdict
    evidence: str

    def explain(self) -> str:
        said = {
            "completed": "had completed on the server before the process died",
            "not-run": "had not taken effect",
            "unknown": "cannot be checked against the schema",
        }[self.verdict]
        return f"The live schema shows that statement {self.index} ({_short(self.statement)}) {said}: {self.evidence}."


def check_unrecorded_statement(conn: Connection, row: HistoryRow, statements: tuple[str, ...]) -> StatementCheck | None:
    """Only for a run that died (status running / rolling_back): a *failed* statement raised, so it did not run."""
    index = row.statements_done + 1
    if row.status not in UNFINISHED_STATUSES or index > len(statements):
        return None
    snapshot = read_schema(conn.engine, exclude=(conn.history.table, conn.history.log_table))
    operations = statement_operations(statements[index - 1], conn.engine.dialect, index)
    seen = [_effect(op, snapshot) for op in operations]
    verdicts = {verdict for verdict, _ in seen}
    verdict: Verdict = verdicts.pop() if len(verdicts) == 1 else "unknown"
    return StatementCheck(
        index=index,
        statement=statements[index - 1],
        verdict=verdict,
        evidence="; ".join(evidence for _, evidence in seen),
    )


def _effect(op: Operation, schema: Snapshot) -> tuple[Verdict, str]:
    table = schema.table(op.table) if op.table else None
    where = f"{op.table}.{op.column}" if op.column else op.table
    if op.kind in ("create_table", "drop_table"):
        return _presence(table is not None, op.kind == "create_table", f"table {op.table}")
    if op.kind == "rename_table":
        return _presence(
            schema.table(op.new_name or "") is not None and table is None,
            True,
            f"table {op.table} renamed to {op.new_name}",
        )
    if table is None:
        return "unknown", f"table {op.table} is not in the schema"
    column = table.column(op.column) if op.column else None
    if op.kind in ("add_column", "drop_column"):
        return _presence(column is not None, op.kind == "add_column", f"column {where}")
    if op.kind == "rename_column":
        return _presence(
            table.column(op.new_name or "") is not None and column is None,
            True,
            f"column {where} renamed to {op.new_name}",
        )
    if op.kind in ("create_index", "drop_index") and op.index_name:
        return _presence(key(op.index_name) in table.indexes, op.kind == "create_index", f"index {op.index_name}")
    if op.kind in ("add_constraint", "drop_constraint") and op.constraint_name:
        present = key(op.constraint_name) in table.constraints or key(op.constraint_name) in table.indexes
        return _presence(present, op.kind == "add_constraint", f"constraint {op.constraint_name}")
    if column is not None and op.kind in ("set_not_null", "drop_not_null"):
        return _presence(not column.nullable, op.kind == "set_not_null", f"NOT NULL on {where}")
    if column is not None and op.kind == "alter_column_type" and op.new_type:
        wanted = ColumnType.parse(op.new_type, schema.dialect).normalized
        return _presence(column.type.normalized == wanted, True, f"{where} is {column.type.text}")
    return "unknown", f"{op.kind.replace('_', ' ')} leaves no trace in the schema"


def _presence(present: bool, wanted: bool, what: str) -> tuple[Verdict, str]:
    if present == wanted:
        return "completed", f"{what} {'exists' if present else 'is gone'}"
    return "not-run", f"{what} {'still exists' if present else 'does not exist'}"


def _short(statement: str, limit: int = 70) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
