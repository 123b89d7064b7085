"""volatile-default: ADD COLUMN with a volatile DEFAULT rewrites the table, or (MariaDB) gives every
existing row one and the same "random" value."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule


class VolatileDefault(LockRule):
    """Since PostgreSQL 11, ADD COLUMN with a constant (or stable) DEFAULT is instant: the value is
    stored once in the catalog. A volatile DEFAULT (random(), gen_random_uuid(), clock_timestamp(),
    nextval()) differs per row, so every row is rewritten under ACCESS EXCLUSIVE: reads and
    writes wait for the whole table. MySQL/MariaDB copy the table (ALGORITHM=COPY: writes wait)
    for UUID(), UUID_SHORT(), SYSDATE(), RANDOM_BYTES(); MariaDB adds a RAND() column instantly by
    evaluating it once, so every existing row gets the same value.

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
    requires = "table_level_ddl_locks"  # SQLite refuses a non-constant DEFAULT in ADD COLUMN
    recommendation = (
        "Add the column without the DEFAULT, SET DEFAULT separately, and backfill existing rows in batches."
    )

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and bool(ctx.op.default_volatile)

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.rewrites_table or _evaluated_once(ctx, claim)

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        if _evaluated_once(ctx, claim):
            return (
                f"DEFAULT {ctx.op.default} is evaluated once for the existing rows of {table}: they all get the "
                f"same value of {ctx.op.column}; only new rows get their own."
            )
        waits = "reads and writes wait" if claim.blocks_reads else "writes wait"
        return (
            f"DEFAULT {ctx.op.default} is volatile: adding {ctx.op.column} rewrites every row of {table} "
            f"under {claim.lock}; {waits}."
        )

    def rewrite(self, ctx: OperationContext) -> str | None:
        op, table, column = ctx.op, ctx.ident(ctx.op.table), ctx.ident(ctx.op.column)
        return (
            f"ALTER TABLE {table} ADD COLUMN {column} {op.new_type};\n"
            f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {op.default};\n"
            f"UPDATE {table} SET {column} = {op.default} WHERE {column} IS NULL;  -- in batches"
        )


def _evaluated_once(ctx: OperationContext, claim) -> bool:
    return claim.default_evaluated_once


RULE = VolatileDefault()
