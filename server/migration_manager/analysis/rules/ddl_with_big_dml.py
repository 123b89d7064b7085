"""ddl-with-big-dml: a transaction that holds a DDL lock while a big UPDATE/DELETE runs."""

from __future__ import annotations

from sqlglot import exp

from ..after_changes import own_rows_where
from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from . import Rule


class DDLWithBigDML(Rule):
    """A migration runs in one transaction. A lock taken by its DDL (ACCESS EXCLUSIVE for most
    ALTER TABLE in PostgreSQL) is held until COMMIT, so an UPDATE or DELETE of many rows in the
    same migration keeps the table (often the whole application) blocked for as long as the
    data change takes, and a failure at the end rolls everything back.

    Bad:
        ALTER TABLE orders ADD COLUMN status text;
        UPDATE orders SET status = 'done';                 -- 5 million rows, under the ALTER's lock
    Good: the schema change in one migration; the backfill in another, in batches:
        ALTER TABLE orders ADD COLUMN status text;         -- migration 1
        UPDATE orders SET status = 'done' WHERE id BETWEEN 1 AND 10000 AND status IS NULL;  -- migration 2, repeated
    """

    id = "ddl-with-big-dml"
    severity = "warning"
    title = "big UPDATE/DELETE in the same transaction as DDL"
    kinds = ("update", "delete")
    requires = "transactional_ddl"  # MySQL/MariaDB commit each DDL statement on its own
    big_rows = 10_000
    probe = "rows the UPDATE/DELETE's WHERE matches (shares the table's one scan)"
    recommendation = "Move the data change to its own migration and run it in batches (commit between batches)."

    def applies(self, ctx: OperationContext) -> bool:
        return (
            super().applies(ctx)
            and ctx.transactional
            and ctx.live_table is not None
            and any(o.is_ddl and o.kind != "create_table" and o.table for o in ctx.script)
            and ctx.columns_known_live(ctx.op.where or "TRUE")
        )

    def probes(self, ctx: OperationContext) -> list[Probe]:
        # A WHERE that reads another table (UPDATE ... FROM, a WITH query, an alias in a subquery) cannot be
        # counted on this table alone: its rows are the upper bound (the query would fail, and with it every
        # other figure of this table's one scan).
        where = own_rows_where(ctx.op.statement, ctx.dialect)
        return [self.count_if(ctx, exp.true() if where is None else where)]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        measure = measured.get(self.key(ctx))
        if measure is None or (measure.value is not None and measure.value < self.big_rows):
            return None
        ddl = [o for o in ctx.script if o.is_ddl and o.table and o.kind != "create_table"]
        statements = ", ".join(sorted({str(o.statement_index) for o in ddl}))
        rows = "an unknown number of" if measure.value is None else f"{measure.value:,}"
        if measure.value is not None and own_rows_where(ctx.op.statement, ctx.dialect) is None:
            rows = f"up to {rows}"  # its WHERE reads another table: the table's rows were counted
        return self.finding(
            ctx,
            f"{ctx.op.kind.upper()} of {rows} rows of {ctx.op.table} runs in the same "
            f"transaction as DDL (statement {statements}): the DDL's locks are held until it "
            "finishes and commits.",
            measure=measure,
            counts={"rows": measure.value or 0},
        )


RULE = DDLWithBigDML()
