"""After a crash: did the statement the history did not record as done actually complete?

A run records progress after each statement. If the process dies between the server finishing
a statement and that record (Flyway #1411: the server finished the ALTER, the runner recorded
nothing), the history says "k-1 done" while the schema already has statement k's effect, and a
plain retry fails on "already exists". We look at the live schema: every operation of statement
k either shows its effect (it completed), none does (it did not run), or we cannot tell. Each kind of
operation knows how its effect shows (`Operation.effect_in`, analysis/operations/).
"""

from __future__ import annotations

from pydantic import BaseModel

from ..analysis.model import Verdict
from ..analysis.operations import statement_operations
from ..analysis.schema import read_schema
from ..history import UNFINISHED_STATUSES, HistoryRow
from .context import Connection


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
    seen = [op.effect_in(snapshot) for op in operations]
    verdicts = {verdict for verdict, _ in seen}
    verdict: Verdict = verdicts.pop() if len(verdicts) == 1 else "unknown"
    return StatementCheck(
        index=index,
        statement=statements[index - 1],
        verdict=verdict,
        evidence="; ".join(evidence for _, evidence in seen),
    )


def _short(statement: str, limit: int = 70) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
