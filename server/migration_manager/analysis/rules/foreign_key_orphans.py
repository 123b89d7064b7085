"""foreign-key-orphans: rows that reference nothing make ADD FOREIGN KEY fail."""

from __future__ import annotations

from sqlglot import exp

from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe, not_null
from . import Rule, count_text


class ForeignKeyOrphans(Rule):
    """Adding a FOREIGN KEY checks every existing row; one row whose key has no parent makes the
    statement fail after a full scan (PostgreSQL holds a lock that blocks writes on both tables
    meanwhile; MySQL/MariaDB copy the table). `NOT VALID` skips the check but the orphans stay.

    Bad:
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
    Good (fix the orphans, then add it without the long lock):
        DELETE FROM orders o WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id);
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
    """

    id = "foreign-key-orphans"
    severity = "danger"
    title = "orphan rows block a FOREIGN KEY"
    kinds = ("add_constraint",)
    probe = "rows whose non-NULL key has no parent row (NOT EXISTS anti-join; MATCH SIMPLE like the server)"
    recommendation = (
        "Delete or re-point the orphan rows (the probe query lists them), or set their key to NULL, "
        "before adding the constraint."
    )

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.op.constraint_type == "foreign_key" and bool(ctx.op.ref_table)

    def probes(self, ctx: OperationContext) -> list[Probe]:
        columns = ctx.live_columns()
        if ctx.live_table is None or columns is None:
            return []
        if ctx.parent_created:  # the plan creates the parent: it is empty, every keyed row is an orphan
            return [Probe(self.key(ctx), ctx.live_table, condition=_any_key(columns))]
        if ctx.parent_live is None:
            return []  # no such table: the schema check reports it
        return [
            Probe(
                self.key(ctx),
                ctx.live_table,
                "orphans",
                columns=tuple(columns),
                ref_table=ctx.parent_live,
                ref_columns=tuple(ctx.op.ref_columns),
            )
        ]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        measure = measured.get(self.key(ctx))
        if measure is None or measure.value == 0:
            return None
        target = f"{ctx.op.table} ({', '.join(ctx.op.columns)}) -> {ctx.op.ref_table}"
        consequence = "is added but not checked" if ctx.op.not_valid else "fails"
        severity = "warning" if ctx.op.not_valid else None
        return self.finding(
            ctx,
            f"The foreign key {target} {consequence}: {count_text(measure, 'orphan rows')} reference no parent row.",
            severity=severity,
            measure=measure,
            counts={"orphan_rows": measure.value or 0},
        )


def _any_key(columns: list[str]) -> exp.Expression:
    return exp.and_(*(not_null(exp.column(c, quoted=True)) for c in columns))


RULE = ForeignKeyOrphans()
