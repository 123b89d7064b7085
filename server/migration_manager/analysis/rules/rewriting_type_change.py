"""rewriting-type-change: a column type change that rewrites the table under ACCESS EXCLUSIVE (PostgreSQL)."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule


class RewritingTypeChange(LockRule):
    """ALTER COLUMN ... TYPE rewrites the whole table (and rebuilds its indexes) unless the new type
    is binary-compatible (VARCHAR(n) to a longer VARCHAR or TEXT, NUMERIC to a larger precision at
    the same scale). The rewrite holds ACCESS EXCLUSIVE: reads and writes wait until it ends.

    Bad:
        ALTER TABLE events ALTER COLUMN id TYPE bigint;
    Good (expand / contract, no long lock):
        ALTER TABLE events ADD COLUMN id_new bigint;
        -- keep it in step with a trigger, backfill in batches, then swap names in one short transaction
    """

    id = "rewriting-type-change"
    title = "type change rewrites the table"
    kinds = ("alter_column_type",)
    requires = "table_lock_modes"  # MariaDB/MySQL: mysql-online-ddl says it with ALGORITHM and LOCK
    recommendation = (
        "For a big table: add a new column, keep it in step (trigger), backfill in batches, swap; "
        "or run it in a maintenance window."
    )

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.rewrites_table and claim.blocks_reads

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        return (
            f"Changing {ctx.op.column} to {ctx.op.new_type} rewrites {table} and its indexes under "
            f"{claim.lock}: reads and writes wait for the whole rewrite."
        )


RULE = RewritingTypeChange()
