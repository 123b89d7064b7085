"""drop-column: the values in a dropped column are gone for good."""

from __future__ import annotations

from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe, not_null
from . import Rule, count_text


class DropColumn(Rule):
    """DROP COLUMN deletes every value stored in the column. Once committed, no ROLLBACK and no
    DOWN script brings them back: a DOWN can re-add the column, but empty.

    Bad:
        ALTER TABLE users DROP COLUMN bio;
    Good (keep the values, then drop once no code reads the column):
        CREATE TABLE users_bio_archive AS SELECT id, bio FROM users WHERE bio IS NOT NULL;
        ALTER TABLE users DROP COLUMN bio;
    """

    id = "drop-column"
    severity = "danger"
    title = "DROP COLUMN deletes data"
    kinds = ("drop_column",)
    probe = "rows in the table and non-null values in the column (shares the table's one scan)"
    recommendation = (
        "Archive the values first (or take a backup), and deploy code that no longer reads the "
        "column before dropping it."
    )

    def probes(self, ctx: OperationContext) -> list[Probe]:
        if not ctx.probed:
            return []
        return [self.count_if(ctx, not_null(self.column(ctx)))]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        if not ctx.probed:
            return None  # created by the plan itself: nothing to lose yet
        measure = measured[self.key(ctx)]
        if measure.value == 0:
            return self.finding(
                ctx,
                f"{ctx.op.target} holds no values ({measure.rows:,} rows): nothing is lost.",
                severity="info",
                measure=measure,
            )
        counts = {"rows": measure.rows or 0, "non_null_values": measure.value or 0}
        return self.finding(
            ctx,
            f"Dropping {ctx.op.target} deletes {count_text(measure, 'non-null values')} "
            f"(the table has {measure.rows or 0:,} rows).",
            measure=measure,
            counts=counts,
            safe_rewrite=_archive(ctx),
        )


def _archive(ctx: OperationContext) -> str:
    table, column = ctx.live_table or "", ctx.live_column or ""
    keys = [k for k in ctx.live.primary_key(table) if k != column]
    kept = ", ".join(ctx.ident(c) for c in [*keys, column])
    archive, table, column = ctx.ident(f"{table}_{column}_archive"), ctx.ident(table), ctx.ident(column)
    return f"CREATE TABLE {archive} AS SELECT {kept} FROM {table} WHERE {column} IS NOT NULL;\n{ctx.op.statement};"


RULE = DropColumn()
