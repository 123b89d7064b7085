"""constraint-not-valid: ADD FOREIGN KEY / CHECK without NOT VALID checks every row under a lock (PostgreSQL)."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule


class ConstraintNotValid(LockRule):
    """ADD CONSTRAINT ... FOREIGN KEY or CHECK verifies every existing row while holding a lock that
    blocks writes (for a foreign key, on the referenced table too). Added NOT VALID, it only
    checks new rows (a brief lock); VALIDATE CONSTRAINT then checks the old ones under a lock
    that lets reads and writes go on.

    Bad:
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
    Good:
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
    """

    id = "constraint-not-valid"
    title = "constraint added without NOT VALID"
    kinds = ("add_constraint",)
    requires = "not_valid_constraints"
    recommendation = "Add the constraint NOT VALID, then VALIDATE CONSTRAINT in a separate statement."

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.op.constraint_type in ("foreign_key", "check") and not ctx.op.not_valid

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.blocks_writes and claim.scans_table

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        others = "".join(f" and {t} with {mode}" for t, mode in claim.other_tables.items())
        kind = "FOREIGN KEY" if ctx.op.constraint_type == "foreign_key" else "CHECK"
        return (
            f"Adding this {kind} constraint checks every row of {table} while holding {claim.lock}{others}: "
            f"{claim.blocks} wait for the whole check."
        )

    def rewrite(self, ctx: OperationContext) -> str | None:
        name = ctx.ident(ctx.op.constraint_name) if ctx.op.constraint_name else "<constraint name>"
        return f"{ctx.op.statement} NOT VALID;\nALTER TABLE {ctx.ident(ctx.op.table)} VALIDATE CONSTRAINT {name};"


RULE = ConstraintNotValid()
