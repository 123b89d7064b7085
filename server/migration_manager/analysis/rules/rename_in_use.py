"""rename-in-use: renaming a table or column breaks the code that is running now."""

from __future__ import annotations

from ... import dialects
from ..context import OperationContext
from ..model import Finding
from ..probes import Measure
from ..stats import usage
from . import Rule


class RenameInUse(Rule):
    """The application deployed right now still uses the old name: from the moment the rename
    commits, each of its queries naming it fails, until new code is deployed everywhere (and a
    rollback of the code breaks again). Objects stored in the database as text break too: on
    MySQL/MariaDB every view, trigger and routine naming it; on PostgreSQL every function whose body
    names it (views follow a rename there). Renames need an expand / contract sequence.

    Bad:
        ALTER TABLE users RENAME COLUMN name TO full_name;
    Good (column): add the new column, write both, backfill, switch reads, drop the old one later:
        ALTER TABLE users ADD COLUMN full_name text;
        -- trigger or application writes both; backfill in batches; deploy reads of full_name
        ALTER TABLE users DROP COLUMN name;        -- a later release
    Good (table, PostgreSQL): rename, and leave a view under the old name for old code:
        ALTER TABLE users RENAME TO accounts;
        CREATE VIEW users AS SELECT * FROM accounts;
    """

    id = "rename-in-use"
    severity = "warning"
    title = "rename breaks running code"
    kinds = ("rename_column", "rename_table")
    probe = (
        "the catalog: stored objects whose text names the old name (PostgreSQL function bodies; MySQL views, "
        "triggers, routines) and the table's reads and writes since the statistics were reset"
    )
    recommendation = (
        "Expand / contract: add the new name alongside the old, move the code over, remove the old "
        "name in a later release. Update or recreate the objects that name it in the same migration."
    )

    def applies(self, ctx: OperationContext) -> bool:
        renames_column = ctx.op.kind == "rename_column" and ctx.added_in_plan is None
        return super().applies(ctx) and ctx.live_table is not None and (renames_column or ctx.op.kind == "rename_table")

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        op = ctx.op
        old = op.target
        rewrite = None
        if op.kind == "rename_table" and _view_keeps_old_name_working(ctx.dialect):
            old_name, new_name = ctx.ident(op.table), ctx.ident(op.new_name)
            rewrite = (
                f"ALTER TABLE {old_name} RENAME TO {new_name};\nCREATE VIEW {old_name} AS SELECT * FROM {new_name};"
            )
        used = usage(ctx.live.engine, ctx.live_table, ctx.live_column if op.kind == "rename_column" else None)
        message = (
            f"Renaming {old} to {op.new_name}: every query of the running application that names {old} fails "
            "from the moment this commits"
        )
        if used.breaks:
            message += (
                f"; {len(used.breaks)} object(s) in the database that name it break too: {', '.join(used.breaks)}"
            )
        if used.reads is not None:
            message += (
                f". {ctx.live_table} was scanned {used.reads:,} time(s) and {used.writes:,} row(s) written "
                "since the statistics were reset"
            )
        counts = {"broken_objects": len(used.breaks)}
        counts.update({k: v for k, v in (("reads", used.reads), ("writes", used.writes)) if v is not None})
        return self.finding(
            ctx,
            message + ".",
            severity="danger" if used.breaks else "warning",
            safe_rewrite=rewrite,
            rows_total=ctx.estimated_rows(),
            exact=False,
            counts=counts,
        )


def _view_keeps_old_name_working(dialect: str) -> bool:
    """A view under the old name keeps the running code working: it commits with the rename, and takes the writes
    the code sends to the old name."""
    traits = dialects.get(dialect)
    return traits.transactional_ddl and traits.updatable_views


RULE = RenameInUse()
