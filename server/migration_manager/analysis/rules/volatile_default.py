"""volatile-default: ADD COLUMN with a volatile DEFAULT rewrites the table (PostgreSQL)."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule


class VolatileDefault(LockRule):
    """Since PostgreSQL 11, ADD COLUMN with a constant (or stable) DEFAULT is instant: the value is
    stored once in the catalog. A volatile DEFAULT (random(), gen_random_uuid(), clock_timestamp(),
    nextval()) differs per row, so every row is rewritten under ACCESS EXCLUSIVE: reads and
    writes wait for the whole table.

    Bad:
        ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();
    Good (instant column, default for new rows, backfill old ones in batches):
        ALTER TABLE orders ADD COLUMN token uuid;
        ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();
        UPDATE orders SET token = gen_random_uuid() WHERE token IS NULL AND id BETWEEN 1 AND 10000;  -- repeat
    """

    id = "volatile-default"
    title = "volatile DEFAULT rewrites the table"
    kinds = ("add_column",)
    dialects = ("postgres",)
    recommendation = "Add the column without the DEFAULT, SET DEFAULT separately, and backfill existing rows in batches."

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and bool(ctx.op.default_volatile)

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.rewrites_table

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        return (f"DEFAULT {ctx.op.default} is volatile: adding {ctx.op.column} rewrites every row of {table} "
                f"under {claim.lock}; reads and writes wait.")

    def rewrite(self, ctx: OperationContext) -> str | None:
        op = ctx.op
        return (f"ALTER TABLE {op.table} ADD COLUMN {op.column} {op.new_type};\n"
                f"ALTER TABLE {op.table} ALTER COLUMN {op.column} SET DEFAULT {op.default};\n"
                f"UPDATE {op.table} SET {op.column} = {op.default} WHERE {op.column} IS NULL;  -- in batches")


RULE = VolatileDefault()
