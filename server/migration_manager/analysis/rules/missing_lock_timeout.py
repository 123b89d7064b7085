"""missing-lock-timeout: DDL that may wait for its lock forever, with all traffic queued behind it."""

from __future__ import annotations

from ... import dialects
from ..context import OperationContext
from ..model import Finding
from ..probes import Measure
from . import Rule


class MissingLockTimeout(Rule):
    """A DDL statement waits for its table lock behind any open transaction that touched the table
    (a slow report, an idle-in-transaction session). While it waits, every new query on the table
    queues behind it: the application stalls although the DDL itself would take milliseconds.
    A lock timeout makes the DDL give up (and be retried) instead. migration-manager sets one for
    every statement from `ddlLockTimeoutMs` (default 5000); this fires when that is switched off
    and the migration does not set its own.

    Bad:
        ALTER TABLE orders ADD COLUMN note text;    -- with ddlLockTimeoutMs: null
    Good:
        SET lock_timeout = '5s';                    -- MySQL/MariaDB: SET SESSION lock_wait_timeout = 5;
        ALTER TABLE orders ADD COLUMN note text;
    """

    id = "missing-lock-timeout"
    severity = "warning"
    title = "no lock timeout"
    kinds = (
        "add_column",
        "drop_column",
        "rename_column",
        "rename_table",
        "alter_column_type",
        "set_not_null",
        "drop_not_null",
        "set_default",
        "drop_default",
        "add_constraint",
        "drop_constraint",
        "create_index",
        "drop_index",
        "drop_table",
        "truncate",
        "validate_constraint",
    )
    requires = "lock_timeout_sql"  # SQLite's writers wait on the file (busy_timeout), not in a lock queue
    probe = "none: the statement's lock (analysis/locks), the setting ddlLockTimeoutMs and earlier SET statements"
    recommendation = (
        "Keep ddlLockTimeoutMs set (the default is 5000 ms), or SET lock_timeout at the top of the migration."
    )

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.live_table is not None and not ctx.lock_timeout_set()

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        if not _queues_traffic(ctx, ctx.op) or any(_queues_traffic(ctx, o) for o in ctx.earlier()):
            return None  # one finding per migration, on its first statement that needs it
        claim = ctx.live.lock(ctx.op)
        return self.finding(
            ctx,
            f"Statement {ctx.op.statement_index} waits for {claim.lock} on {ctx.live_table} with "
            "no lock timeout: behind a long transaction it waits forever and every query on the "
            "table queues behind it.",
            safe_rewrite=f"{dialects.get(ctx.dialect).lock_timeout_sql}\n{ctx.op.statement};",
        )


def _queues_traffic(ctx: OperationContext, op) -> bool:
    if op.kind not in MissingLockTimeout.kinds or not op.table or not ctx.live.table_name(op.table):
        return False
    claim = ctx.live.lock(op)
    # Every MySQL ALTER takes an exclusive metadata lock at its start, whatever its LOCK= level.
    return claim.blocks_writes or claim.blocks_reads or "metadata lock" in claim.lock


RULE = MissingLockTimeout()
