"""index-not-concurrent: CREATE INDEX without CONCURRENTLY blocks writes (PostgreSQL)."""

from __future__ import annotations

import re

from ..context import OperationContext
from . import LockRule


class IndexNotConcurrent(LockRule):
    """CREATE INDEX (and ADD UNIQUE / PRIMARY KEY, which build one) takes a SHARE lock: every
    INSERT, UPDATE and DELETE on the table waits until the whole index is built.
    CREATE INDEX CONCURRENTLY builds it while writes go on (it cannot run in a transaction block;
    migration-manager runs such a migration statement by statement).

    Bad:
        CREATE INDEX orders_user_idx ON orders (user_id);
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    Good:
        CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
        CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
    """

    id = "index-not-concurrent"
    title = "index built without CONCURRENTLY"
    kinds = ("create_index", "add_constraint")
    requires = "concurrent_index"
    recommendation = "Build the index with CREATE [UNIQUE] INDEX CONCURRENTLY (then ADD CONSTRAINT ... USING INDEX)."

    def applies(self, ctx: OperationContext) -> bool:
        op = ctx.op
        builds = op.kind == "create_index" or (
            op.constraint_type in ("unique", "primary_key") and op.detail != "using index"
        )
        return super().applies(ctx) and builds and not op.concurrently

    def fires(self, ctx: OperationContext, claim) -> bool:
        return claim.blocks_writes

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        return f"Building this index locks {table} with {claim.lock}: {claim.blocks} wait until it is built."

    def rewrite(self, ctx: OperationContext) -> str | None:
        op = ctx.op
        if op.kind == "create_index":
            return (
                re.sub(
                    r"^(\s*CREATE\s+(UNIQUE\s+)?INDEX)\b",
                    r"\1 CONCURRENTLY",
                    op.statement,
                    count=1,
                    flags=re.IGNORECASE,
                )
                + ";"
            )
        if not op.columns:
            return None
        name = ctx.ident(op.constraint_name or f"{op.table}_{'_'.join(op.columns)}_key")
        kind = "PRIMARY KEY" if op.constraint_type == "primary_key" else "UNIQUE"
        table, columns = ctx.ident(op.table), ", ".join(ctx.ident(c) for c in op.columns)
        return (
            f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns});\n"
            f"ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name};"
        )


RULE = IndexNotConcurrent()
