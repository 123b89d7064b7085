"""After a crash: did the statement the history did not record as done actually complete?

A run records progress after each statement. If the process dies between the server finishing
a statement and that record (Flyway #1411: the server finished the ALTER, the runner recorded
nothing), the history says "k-1 done" while the schema already has statement k's effect, and a
plain retry fails on "already exists". We look at the live schema: every operation of statement
k either shows its effect (it completed), none does (it did not run), or we cannot tell. Each kind of
operation knows how its effect shows (`Operation.effect_in`, analysis/operations/).

On MariaDB/MySQL a run leaves out the record between two statements that only add tables, columns or
named indexes (`unrecorded_after`): each record is a commit, and the schema alone says how far such
statements got. The check then walks on through them until one shows no effect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pydantic import BaseModel

from ..analysis.model import Verdict
from ..analysis.operations import statement_operations
from ..analysis.schema import Snapshot, read_schema
from ..dialects.base import Engine
from ..history import UNFINISHED_STATUSES, HistoryRow
from .context import Connection


class StatementCheck(BaseModel):
    """What the live schema says about the first statement the history does not record as done."""

    index: int  # completed: the last statement that did; otherwise the first one checked
    statement: str
    verdict: Verdict
    evidence: str
    first: int = 0  # the first statement checked, when several were (0: only `index`)

    def explain(self) -> str:
        said = {
            "completed": "had completed on the server before the process died",
            "not-run": "had not taken effect",
            "unknown": "cannot be checked against the schema",
        }[self.verdict]
        which = f"statement {self.index} ({_short(self.statement)})"
        if self.first and self.first < self.index:
            which = f"statements {self.first}..{self.index} (the last: {_short(self.statement)})"
        return f"The live schema shows that {which} {said}: {self.evidence}."


def check_unrecorded_statement(conn: Connection, row: HistoryRow, statements: tuple[str, ...]) -> StatementCheck | None:
    """Only for a run that died (status running / rolling_back): a *failed* statement raised, so it did not run."""
    index = row.statements_done + 1
    if row.status not in UNFINISHED_STATUSES or index > len(statements):
        return None
    snapshot = read_schema(conn.engine, exclude=(conn.history.table, conn.history.log_table))
    first, evidence = index, []
    while True:
        verdict, seen = _statement_effect(statements[index - 1], conn.engine.dialect, index, snapshot)
        evidence.append(seen if index == first else f"{seen} (statement {index})")
        if verdict != "completed" or not unrecorded_after(statements, index, conn.engine):
            break
        index += 1  # the run did not record this one: the next may have run too
    if verdict != "completed" and index > first:  # the statements before this one completed
        verdict, index = "completed", index - 1
    return StatementCheck(
        index=index, statement=statements[index - 1], verdict=verdict, evidence="; ".join(evidence), first=first
    )


def _statement_effect(sql: str, dialect: str, index: int, snapshot: Snapshot) -> tuple[Verdict, str]:
    seen = [op.effect_in(snapshot) for op in statement_operations(sql, dialect, index)]
    verdicts = {verdict for verdict, _ in seen}
    return (verdicts.pop() if len(verdicts) == 1 else "unknown"), "; ".join(evidence for _, evidence in seen)


# What a statement may do for the run to leave out its progress record: each shows in the schema once done,
# and none can hide another's effect (nothing is dropped or renamed).
_SHOWN_IN_SCHEMA = {"create_table", "add_column", "create_index"}
_TEMPORARY = re.compile(r"^\s*create\s+(global\s+|local\s+)?temp(orary)?\b", re.IGNORECASE)


def unrecorded_after(statements: Sequence[str], index: int, engine: Engine) -> bool:
    """Whether a per-statement run may leave out the progress record after statement `index` (1-based): only
    between two statements that add tables, columns or named indexes of the current schema, so that after a
    crash the live schema alone says how far the run got; and only where DDL leaves nothing half-done (an
    interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index that would look complete)."""
    return (
        not engine.caps.transactional_ddl
        and index < len(statements)
        and all(_shown_in_schema(sql, engine.dialect) for sql in statements[index - 1 : index + 1])
    )


@lru_cache(maxsize=65536)  # asked for each statement of each migration an apply runs on MariaDB
def _shown_in_schema(sql: str, dialect: str) -> bool:
    if _TEMPORARY.match(sql):  # a temporary table is in no schema
        return False
    return all(
        op.kind in _SHOWN_IN_SCHEMA and op.schema_name is None and (op.kind != "create_index" or op.index_name)
        for op in statement_operations(sql, dialect)
    )


def _short(statement: str, limit: int = 70) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
