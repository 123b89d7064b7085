"""What a strategy makes of a migration: per statement, the strategy it gets and why, and the phases it runs in.

A plan is data (pgroll's Start/Complete/Rollback as lists of steps): the dry run, analyze and the MCP preview show
the same plan that apply, complete and rollback execute."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..errors import MigrationError

# How long a shadow swap's renames (and its triggers' creation) wait for their lock before they back off and retry:
# never long, since every writer queues behind a waiting rename (pgroll: 500 ms; below the 500 ms stall we promise).
# The cut-over uses it (shadow.CutoverPolicy) and the lock prediction says it (analysis/impact/steps.py).
SWAP_LOCK_TIMEOUT_MS = 200

# How one statement runs: as written; the server's own non-blocking form of it; expand now, contract at
# `complete`; or a shadow copy of its table.
How = Literal["as written", "native online", "expand/contract", "shadow"]


class Backfill(BaseModel):
    """Fill `column` of `table` with `value` where it is NULL, in primary-key batches (names quoted)."""

    table: str
    column: str
    value: str
    key: list[str] = Field(default_factory=list, description="the primary key's columns, in order")
    table_name: str = Field("", description="the table's name unquoted (throttle signals, messages)")
    unless_valid: str | None = Field(
        None, description="a VALIDATE to try first: when it passes, no row needs the backfill (one scan, not two)"
    )

    def describe(self) -> str:
        return f"backfill {self.table}.{self.column} = {self.value} where NULL, in primary-key batches"


class StepLock(BaseModel):
    """The lock model's prediction for one step (analysis/impact/steps.py): its lock, what it blocks, how long a read
    or write can wait on it."""

    step: str = Field(description="what runs (a shadow copy has several sub-steps)")
    table: str | None = None
    lock: str
    algorithm: str | None = None
    blocks: str = Field(description="what waits while it holds its lock: reads and writes / writes / nothing")
    blocks_reads: bool
    blocks_writes: bool
    queues_behind_transactions: bool = Field(
        description="it waits for open transactions on the table, and reads/writes queue behind it meanwhile"
    )
    stall_ms: int | None = Field(description="the longest a read or write waits on it; None: the whole statement")
    stall: str = Field(description="why that long")


class Step(BaseModel):
    """One SQL statement, one batched backfill, or one shadow-copy phase of an ALTER TABLE (strategies/shadow.py:
    start in the expand phase, drop the old table in complete, swap back or drop the copy in undo)."""

    sql: str | None = None
    backfill: Backfill | None = None
    shadow: str | None = Field(None, description="the ALTER TABLE run through a shadow copy")
    locks: list[StepLock] = Field(default_factory=list, description="its predicted locks and stall (analyze, dry run)")

    def describe(self) -> str:
        if self.shadow is not None:
            return f"shadow copy: {' '.join(self.shadow.split())}"
        return self.sql if self.sql is not None else self.backfill.describe()  # type: ignore[union-attr]


class StatementStrategy(BaseModel):
    index: int = Field(description="1-based position of the statement in the UP script")
    sql: str
    how: How
    reason: str
    expand: list[Step] = Field(default_factory=list, description="run by apply (the statement itself when as written)")
    complete: list[Step] = Field(default_factory=list, description="run by `complete` (the contract phase)")
    undo: list[Step] = Field(default_factory=list, description="what rollback runs while only expanded")
    app_must: str = Field("", description="what the application must do before `complete`")


class StrategyPlan(BaseModel):
    """One migration under its strategy."""

    strategy: str = Field(description="the strategy chosen (header, --strategy, or the setting)")
    chosen_by: str = Field(description="where the choice came from")
    statements: list[StatementStrategy] = Field(
        default_factory=list, description="per statement; empty when every statement runs as written (see note)"
    )
    note: str = Field("", description="why every statement runs as written, when the strategy lists none")
    app_must: list[str] = Field(
        default_factory=list, description="what the application must do between apply and complete"
    )

    @property
    def rewrites(self) -> bool:
        """False when every statement runs as written (the runner's usual path)."""
        return any(s.how != "as written" for s in self.statements)

    @property
    def has_contract(self) -> bool:
        return any(s.complete for s in self.statements)

    def stored_json(self) -> str:
        """The plan as the history row keeps it: without the steps' lock predictions (analyze shows them; a row's
        TEXT column need not hold them)."""
        steps = {"__all__": {"locks"}}
        return self.model_dump_json(
            exclude={"statements": {"__all__": {"expand": steps, "complete": steps, "undo": steps}}}
        )

    def phases(self) -> dict[str, list[str]]:
        expand = [step.describe() for s in self.statements for step in s.expand]
        complete = [step.describe() for s in self.statements for step in s.complete]
        undo = [step.describe() for s in reversed(self.statements) for step in s.undo]
        return {"apply": expand, "complete": complete, "rollback while expanded": undo}


def as_written(index: int, sql: str, why: str) -> StatementStrategy:
    return StatementStrategy(index=index, sql=sql, how="as written", reason=why, expand=[Step(sql=sql)])


class StrategyRefused(MigrationError):
    """The chosen strategy cannot run a statement safely: refused before anything runs."""

    kind = "strategy_refused"
    exit_code = 2
