"""mysql-online-ddl: MySQL/MariaDB changes that cannot run ALGORITHM=INSTANT/INPLACE with LOCK=NONE."""

from __future__ import annotations

from ..context import OperationContext
from . import LockRule

RANK = [None, "INSTANT", "NOCOPY", "INPLACE", "COPY"]
LOCKS = [None, "NONE", "SHARED", "EXCLUSIVE"]


class MySQLOnlineDDL(LockRule):
    """InnoDB runs most ALTERs online (INSTANT: metadata only; INPLACE with LOCK=NONE: reads and
    writes go on). Some cannot: changing a column's type, adding a FOREIGN KEY with
    foreign_key_checks=1, adding a CHECK, converting a character set copy the table
    (ALGORITHM=COPY) and block writes for the whole copy. Writing ALGORITHM=INPLACE, LOCK=NONE
    makes the server refuse such a change instead of blocking; when the statement asks for an
    algorithm or lock level the change cannot have, it fails (an error finding).

    Bad:
        ALTER TABLE orders MODIFY amount DECIMAL(14,2);   -- COPY: writes wait for the copy
    Good:
        ALTER TABLE orders MODIFY amount DECIMAL(14,2), ALGORITHM=INPLACE, LOCK=NONE;  -- refused if it would block
        -- or: pt-online-schema-change / gh-ost for a big table
    """

    id = "mysql-online-ddl"
    title = "not an online change (MySQL/MariaDB)"
    kinds = (
        "add_column",
        "drop_column",
        "rename_column",
        "alter_column_type",
        "set_not_null",
        "drop_not_null",
        "set_default",
        "drop_default",
        "add_constraint",
        "drop_constraint",
        "create_index",
        "drop_index",
    )
    requires = "online_ddl_algorithms"
    recommendation = (
        "Use pt-online-schema-change or gh-ost for a big table, or run it in a maintenance window; "
        "write ALGORITHM=INPLACE, LOCK=NONE so the server refuses rather than blocks."
    )

    def check(self, ctx: OperationContext, measured):
        found = super().check(ctx, measured)
        if found is not None and self._refused(ctx, ctx.live.lock(ctx.op)):
            return found.model_copy(update={"severity": "error", "safe_rewrite": None})
        return found

    def fires(self, ctx: OperationContext, claim) -> bool:
        if self._refused(ctx, claim):
            return True
        if ctx.op.kind == "add_column" and ctx.op.default_volatile:
            return False  # volatile-default says it, with the rewrite
        return claim.algorithm == "COPY" or (claim.blocks_writes and claim.algorithm != "INSTANT")

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        if self._refused(ctx, claim):
            written = ", ".join(f"{k}={v}" for k, v in (("ALGORITHM", ctx.op.algorithm), ("LOCK", ctx.op.lock)) if v)
            return (
                f"The server refuses {written} for this change on {table}: it needs ALGORITHM={claim.algorithm}, "
                f"{claim.lock.rsplit(', ', 1)[-1]}. The statement fails before changing anything."
            )
        return f"This change on {table} runs ALGORITHM={claim.algorithm} with {claim.lock}: {claim.explanation}."

    @staticmethod
    def _refused(ctx: OperationContext, claim) -> bool:
        op = ctx.op
        algorithm_short = (
            op.algorithm in RANK
            and claim.algorithm in RANK
            and op.algorithm not in (None, "DEFAULT")
            and RANK.index(op.algorithm) < RANK.index(claim.algorithm)
        )
        wanted_lock = op.lock if op.lock in LOCKS else None
        needed = claim.lock.rsplit("=", 1)[-1] if "LOCK=" in claim.lock else None
        lock_short = wanted_lock is not None and needed in LOCKS and LOCKS.index(wanted_lock) < LOCKS.index(needed)
        return algorithm_short or lock_short


RULE = MySQLOnlineDDL()
