"""not-null-blocked: NULLs (or existing rows) that stop a NOT NULL column."""

from __future__ import annotations

from sqlglot import exp

from ... import dialects
from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from . import Rule, count_text
from .not_null_scan import set_not_null_by_check


class NotNullBlocked(Rule):
    """SET NOT NULL fails on the first NULL it finds (after scanning the table under an exclusive
    lock); ADD COLUMN ... NOT NULL without a DEFAULT fails on any non-empty table in PostgreSQL and
    SQLite, and in MySQL/MariaDB silently fills every existing row with 0 or ''.

    Bad:
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;   -- while NULLs remain
        ALTER TABLE users ADD COLUMN plan text NOT NULL;     -- on a table with rows
    Good:
        UPDATE users SET email = ... WHERE email IS NULL;    -- backfill first (in batches)
        ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT users_email_nn; -- PostgreSQL: no long exclusive lock
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;    -- PostgreSQL 12+ uses the valid CHECK
        ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
    """

    id = "not-null-blocked"
    severity = "danger"
    title = "NOT NULL blocked by existing rows"
    kinds = ("set_not_null", "add_column")
    probe = "NULLs in the column (SET NOT NULL), or rows in the table (ADD COLUMN NOT NULL without DEFAULT)"
    recommendation = "Backfill the NULLs first (in batches), or give the new column a DEFAULT."

    def applies(self, ctx: OperationContext) -> bool:
        op = ctx.op
        if op.kind == "add_column":
            return super().applies(ctx) and op.nullable is False and op.default is None
        return super().applies(ctx)

    def probes(self, ctx: OperationContext) -> list[Probe]:
        if ctx.live_table is None:
            return []
        if ctx.op.kind == "add_column" or self._new_empty_column(ctx):
            return [self.count_if(ctx, exp.true())]  # every existing row gets NULL in the new column
        if ctx.added_in_plan is not None:
            return []  # added earlier in the plan with a DEFAULT: existing rows hold that value
        return [self.count_if(ctx, exp.Is(this=self.column(ctx), expression=exp.Null()))]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        if ctx.live_table is None or self.key(ctx) not in measured:
            return None
        measure = measured[self.key(ctx)]
        if measure.value == 0:
            return None
        if ctx.op.kind == "add_column":
            return self._add_column(ctx, measure)
        what = "rows that are NULL in a column added earlier in this plan" if self._new_empty_column(ctx) else "NULLs"
        return self.finding(
            ctx,
            f"SET NOT NULL on {ctx.op.target} fails: {count_text(measure, what)}.",
            measure=measure,
            counts={"nulls": measure.value or 0},
            safe_rewrite=_backfill(ctx),
        )

    def _add_column(self, ctx: OperationContext, measure: Measure) -> Finding:
        rows = count_text(measure, "existing rows")
        if dialects.get(ctx.dialect).implicit_column_values:
            message = (
                f"Adding {ctx.op.target} NOT NULL without a DEFAULT silently gives {rows} an implicit "
                f"value (0 or '') instead of real data."
            )
        else:
            message = f"Adding {ctx.op.target} NOT NULL without a DEFAULT fails: the table has {rows}."
        return self.finding(
            ctx,
            message,
            measure=measure,
            counts={"rows": measure.value or 0},
            safe_rewrite=f"ALTER TABLE {ctx.ident(ctx.op.table)} ADD COLUMN {ctx.ident(ctx.op.column)} "
            f"{ctx.op.new_type} "
            "NOT NULL DEFAULT <value>;",
        )

    @staticmethod
    def _new_empty_column(ctx: OperationContext) -> bool:
        added = ctx.added_in_plan
        return added is not None and added.default is None


def _backfill(ctx: OperationContext) -> str:
    table, column = ctx.ident(ctx.op.table), ctx.ident(ctx.op.column)
    backfill = f"UPDATE {table} SET {column} = <value> WHERE {column} IS NULL;  -- in batches\n"
    if not dialects.get(ctx.dialect).not_valid_constraints:
        return f"{backfill}{ctx.op.statement};"
    return backfill + set_not_null_by_check(ctx)


RULE = NotNullBlocked()
