"""drop-table: DROP TABLE and TRUNCATE delete every row."""

from __future__ import annotations

from sqlglot import exp

from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from . import Rule, count_text


class DropTable(Rule):
    """DROP TABLE and TRUNCATE delete every row at once. Once committed (and on MySQL/MariaDB a
    DROP commits by itself) only a backup brings them back.

    Bad:
        DROP TABLE legacy_orders;
    Good (keep it under another name; drop it in a later release, after a backup):
        ALTER TABLE legacy_orders RENAME TO legacy_orders_retired;
    """

    id = "drop-table"
    severity = "danger"
    title = "DROP TABLE / TRUNCATE deletes every row"
    kinds = ("drop_table", "truncate")
    probe = "exact row count of the table (shares the table's one scan)"
    recommendation = (
        "Take a backup first, or rename the table instead of dropping it and drop it in a later "
        "release once nothing reads it."
    )

    def probes(self, ctx: OperationContext) -> list[Probe]:
        return [self.count_if(ctx, exp.true())] if ctx.probed else []

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        if not ctx.probed:
            return None
        measure = measured[self.key(ctx)]
        verb = "Dropping" if ctx.op.kind == "drop_table" else "Truncating"
        if measure.value == 0:
            return self.finding(
                ctx, f"{ctx.op.table} is empty: {verb.lower()} it loses no rows.", severity="info", measure=measure
            )
        rewrite = (
            f"ALTER TABLE {ctx.ident(ctx.op.table)} RENAME TO {ctx.ident(ctx.op.table + '_retired')};"
            if ctx.op.kind == "drop_table"
            else None
        )
        return self.finding(
            ctx,
            f"{verb} {ctx.op.table} deletes {count_text(measure, 'rows')}.",
            measure=measure,
            counts={"rows": measure.value or 0},
            safe_rewrite=rewrite,
            probe_sql=f"SELECT COUNT(*) FROM {ctx.ident(ctx.live_table)}",
        )


RULE = DropTable()
