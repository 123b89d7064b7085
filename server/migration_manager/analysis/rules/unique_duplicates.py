"""unique-duplicates: existing duplicates that make a UNIQUE / PRIMARY KEY fail."""

from __future__ import annotations

from sqlglot import exp

from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from . import Rule


class UniqueDuplicates(Rule):
    """A UNIQUE constraint, a unique index or a PRIMARY KEY cannot be created while two rows share a
    key: the statement scans (and, without CONCURRENTLY, locks) the whole table, then fails. A
    PRIMARY KEY also fails on a NULL in any key column.

    Bad:
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);   -- duplicates remain
    Good (find and merge the duplicates, then build the index without blocking writes):
        SELECT email, COUNT(*) FROM users GROUP BY email HAVING COUNT(*) > 1;
        CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
    """

    id = "unique-duplicates"
    severity = "danger"
    title = "duplicates block a UNIQUE / PRIMARY KEY"
    kinds = ("add_constraint", "create_index")
    probe = (
        "duplicate key groups and the rows in them (GROUP BY the key HAVING COUNT(*) > 1, run on PostgreSQL only "
        "when COUNT(DISTINCT key) finds a repeated key; NULL keys excluded, partial-index predicate applied); for "
        "a PRIMARY KEY also NULLs in the key"
    )
    recommendation = "Merge or delete the duplicate rows first (the probe query lists them), then add the constraint."

    def applies(self, ctx: OperationContext) -> bool:
        op = ctx.op
        keyed = op.constraint_type in ("unique", "primary_key") if op.kind == "add_constraint" else op.unique
        return super().applies(ctx) and keyed and op.detail != "using index" and bool(op.columns or op.expressions)

    def probes(self, ctx: OperationContext) -> list[Probe]:
        if ctx.live_table is None or not ctx.columns_known_live(ctx.op.where or "TRUE"):
            return []
        where = exp.condition(ctx.op.where, dialect=ctx.dialect) if ctx.op.where else None
        if ctx.op.expression_index:  # e.g. UNIQUE (lower(email)): group by the expressions themselves
            if not all(ctx.columns_known_live(e) for e in ctx.op.expressions):
                return []
            keys = tuple(exp.condition(e, dialect=ctx.dialect) for e in ctx.op.expressions)
            return [Probe(self.key(ctx, "dup"), ctx.live_table, "duplicates", keys=keys, where=where)]
        columns = ctx.live_columns()
        if columns is None:
            return []
        probes = [Probe(self.key(ctx, "dup"), ctx.live_table, "duplicates", columns=tuple(columns), where=where)]
        if ctx.op.constraint_type == "primary_key":
            nulls = exp.or_(*(exp.Is(this=exp.column(c, quoted=True), expression=exp.Null()) for c in columns))
            probes.append(self.count_if(ctx, nulls, "nulls"))
        return probes

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        duplicates = measured.get(self.key(ctx, "dup"))
        if duplicates is None:
            return None
        nulls = measured.get(self.key(ctx, "nulls"))
        null_rows = nulls.value if nulls is not None else 0
        key = f"{ctx.op.table} ({', '.join(ctx.op.expressions if ctx.op.expression_index else ctx.op.columns)})"
        if duplicates.value is None:
            return self.finding(
                ctx, f"Duplicates in {key} could not be counted within the time budget.", measure=duplicates
            )
        if duplicates.value == 0 and not null_rows:
            return None
        parts = []
        if duplicates.value:
            parts.append(
                f"{duplicates.groups:,} duplicate key value(s) held by {duplicates.value:,} rows "
                f"({duplicates.value - (duplicates.groups or 0):,} would have to go)"
            )
        if null_rows:
            parts.append(f"{null_rows:,} rows with a NULL key")
        counts = {
            "duplicate_groups": duplicates.groups or 0,
            "duplicate_rows": duplicates.value,
            "null_key_rows": null_rows or 0,
        }
        return self.finding(
            ctx,
            f"Making {key} unique fails: " + " and ".join(parts) + ".",
            measure=duplicates,
            rows_affected=duplicates.value + (null_rows or 0),
            counts=counts,
        )


RULE = UniqueDuplicates()
