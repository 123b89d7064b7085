"""not-null-scan: SET NOT NULL scans the whole table under ACCESS EXCLUSIVE (PostgreSQL)."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule


class NotNullScan(LockRule):
    """ALTER COLUMN ... SET NOT NULL reads every row to prove there is no NULL, holding ACCESS
    EXCLUSIVE: reads and writes wait for the whole scan, even when there is no NULL at all. Since
    PostgreSQL 12 a valid CHECK (col IS NOT NULL) constraint lets it skip the scan, and that CHECK
    can be validated without blocking.

    Bad:
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    Good:
        ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;   -- reads and writes go on
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;            -- no scan: the CHECK proves it
        ALTER TABLE users DROP CONSTRAINT users_email_not_null;
    """

    id = "not-null-scan"
    title = "SET NOT NULL scans under an exclusive lock"
    kinds = ("set_not_null",)
    requires = "table_lock_modes"
    recommendation = (
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips "
        "the scan), and drop the CHECK."
    )

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.added_in_plan is None and not _proven_by_check(ctx)

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.scans_table and claim.blocks_reads

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        return (
            f"SET NOT NULL on {ctx.op.column} reads every row of {table} under {claim.lock}: "
            f"{claim.blocks} wait for the whole scan."
        )

    def rewrite(self, ctx: OperationContext) -> str | None:
        return set_not_null_by_check(ctx)


def set_not_null_by_check(ctx: OperationContext) -> str:
    """SET NOT NULL on the operation's column without the scan: a CHECK added NOT VALID, validated, then dropped."""
    check = ctx.ident(f"{ctx.op.table}_{ctx.op.column}_not_null")
    table, column = ctx.ident(ctx.op.table), ctx.ident(ctx.op.column)
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({column} IS NOT NULL) NOT VALID;\n"
        f"ALTER TABLE {table} VALIDATE CONSTRAINT {check};\n"
        f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;\n"
        f"ALTER TABLE {table} DROP CONSTRAINT {check};"
    )


def _proven_by_check(ctx: OperationContext) -> bool:
    """An earlier statement of the migration made a valid CHECK (col IS NOT NULL): no scan (the Good way)."""
    wanted = f"{ctx.op.column} IS NOT NULL".lower()
    earlier = ctx.earlier()
    validated = {o.constraint_name for o in earlier if o.kind == "validate_constraint"}
    return any(
        o.kind == "add_constraint"
        and o.constraint_type == "check"
        and o.table == ctx.op.table
        and (o.check or "").lower() == wanted
        and (not o.not_valid or o.constraint_name in validated)
        for o in earlier
    )


RULE = NotNullScan()
