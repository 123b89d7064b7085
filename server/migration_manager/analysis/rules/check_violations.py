"""check-violations: rows that break a new CHECK constraint."""

from __future__ import annotations

from sqlglot import exp

from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from . import Rule, count_text


class CheckViolations(Rule):
    """Adding a CHECK constraint checks every existing row; one row for which the condition is
    false makes the statement fail after a full scan under a lock that blocks writes. (A row for
    which it is NULL passes, as on the server.)

    Bad:
        ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0);
    Good (fix the rows, then add it without the long lock):
        UPDATE orders SET amount = ... WHERE NOT (amount > 0);
        ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT amount_positive;
    """

    id = "check-violations"
    severity = "danger"
    title = "rows violate a new CHECK"
    kinds = ("add_constraint",)
    probe = "rows where NOT (condition) is true (shares the table's one scan)"
    recommendation = "Fix the violating rows first (the probe query lists them), then add the constraint."

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.op.constraint_type == "check" and bool(ctx.op.check)

    def probes(self, ctx: OperationContext) -> list[Probe]:
        if ctx.live_table is None or not ctx.columns_known_live(ctx.op.check or ""):
            return []
        return [self.count_if(ctx, exp.Not(this=exp.paren(exp.condition(ctx.op.check, dialect=ctx.dialect))))]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        measure = measured.get(self.key(ctx))
        if measure is None or measure.value == 0:
            return None
        consequence = "is added but not checked" if ctx.op.not_valid else "fails"
        return self.finding(
            ctx,
            f"CHECK ({ctx.op.check}) on {ctx.op.table} {consequence}: {count_text(measure, 'rows')} violate it.",
            measure=measure,
            severity="warning" if ctx.op.not_valid else None,
            counts={"violating_rows": measure.value or 0},
        )


RULE = CheckViolations()
