"""The online strategy: each statement in a form that lets the application's reads and writes go on.

Per statement, from what the analysis knows (its operations, the live schema, the lock model):
* as written: it only touches the catalog (a brief lock under lock_timeout), or a table nobody uses yet;
* native online: the server's own non-blocking form (CREATE INDEX CONCURRENTLY, ADD CONSTRAINT ... NOT VALID then
  VALIDATE, SET NOT NULL through a validated CHECK on PostgreSQL; LOCK=NONE on MariaDB/MySQL, which then refuses
  rather than block);
* expand/contract (ADD COLUMN ... NOT NULL): apply adds the column nullable with its DEFAULT for new rows and
  backfills the old ones in primary-key batches (strategies/batches.py); the migration is then *expanded* until
  `db-migrate complete` enforces NOT NULL (PostgreSQL: VALIDATE of a CHECK added NOT VALID, then SET NOT NULL
  without a scan). Rolling back an expanded migration drops the new column: instant, and nothing else changed.
Anything else that would hold a lock blocking writes while it scans or copies the table is refused before
anything runs, with the alternative (shadow, offline).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..analysis.locks import LockImpact, Server, combine, lock_impact
from ..analysis.model import Operation
from ..analysis.operations import statement_operations
from .model import Backfill, StatementStrategy, Step, StrategyRefused, as_written

# Statements on a live table that are not an ALTER TABLE a shadow copy could run.
_NOT_ALTER = ("create_index", "drop_index", "drop_table", "truncate", "rename_table", "create_table")
SMALL_TABLE_ROWS = 10_000  # auto: a blocking change on fewer rows than this takes well under a second


@dataclass
class Planner:
    """Plans the statements of one migration under `strategy` ("online" or "auto") on one live database."""

    engine: Any
    strategy: str
    snapshot: Any  # analysis.schema.Snapshot of the live database
    server: Server
    sql: ModuleType  # dialects/<db>/online.py
    shadow: Callable[[int, str], StatementStrategy | list[str]] | None = None  # the plan, or why not

    def statement(self, index: int, sql: str) -> StatementStrategy:
        ops = [self.snapshot.resolve(op) for op in statement_operations(sql, self.engine.dialect, index) if op.is_ddl]
        live = [op for op in ops if op.table and self.snapshot.table(op.table) is not None]
        if not live:
            why = "creates or changes only what nobody uses yet" if ops else "changes no table's schema"
            return as_written(index, sql, why)
        if self.strategy == "shadow":
            return self._shadowed(index, sql, live[0])
        changed = next((o for o in live if o.kind == "alter_column_type"), None)
        if changed is not None and self.strategy == "online" and _slow(combine([self._impact(o) for o in live])):
            # MariaDB's MODIFY: a type and its NULL-ness in one statement
            return self._synced_column(index, sql, changed, live)
        if len(ops) > 1:
            return self._several(index, sql, ops)
        op = live[0]
        planned = self._playbook(index, sql, op)
        return planned if planned is not None else self._by_lock(index, sql, op)

    # ---- the playbooks ------------------------------------------------------------------------------------
    def _playbook(self, index: int, sql: str, op: Operation) -> StatementStrategy | None:
        if op.kind == "add_column" and op.nullable is False:
            if self.strategy == "auto" and not _slow(self._impact(op)):
                return as_written(index, sql, self._impact(op).explanation or "metadata only on this server")
            return self._expand_not_null_column(index, sql, op)
        if op.kind == "set_not_null" and self.engine.caps.not_valid_constraints:
            return self._not_null_by_check(index, sql, op)
        if op.kind in ("create_index", "drop_index") and self.engine.caps.concurrent_index:
            concurrent = self.sql.concurrent_index(sql)
            if concurrent is None:
                return as_written(index, sql, "already CONCURRENTLY: writes go on while the index is built")
            built = op.kind == "create_index" and op.index_name
            return _native(
                index,
                sql,
                [concurrent],
                "CONCURRENTLY: writes go on while the index is built or dropped",
                [self.sql.drop_index_concurrently(self._quote(op.index_name))] if built else [],
            )
        if op.kind == "add_constraint" and op.constraint_type in ("foreign_key", "check"):
            return self._not_valid_then_validate(index, sql, op)
        if op.kind == "add_constraint" and op.constraint_type in ("unique", "primary_key") and op.columns:
            return self._unique_by_index(index, sql, op)
        if op.kind == "rename_column" and self.strategy == "online":
            return self._synced_column(index, sql, op, [op])  # instant as written, but the application breaks
        if op.kind == "alter_column_type" and self.strategy == "online" and _slow(self._impact(op)):
            return self._synced_column(index, sql, op, [op])
        return None

    def _expand_not_null_column(self, index: int, sql: str, op: Operation) -> StatementStrategy:
        table = self.snapshot.table(op.table)
        if op.default is None:
            raise self._refused(
                index,
                sql,
                f"{op.column} has no DEFAULT, so nothing says what the rows already in {op.table} get",
                "give it a DEFAULT, or add it nullable, fill it in a data migration, then SET NOT NULL",
            )
        key = list(table.primary_columns())
        if not key:
            raise self._refused(
                index,
                sql,
                f"{op.table} has no primary key: the backfill walks the table in primary-key order",
                "add a primary key first, or run this migration with the `offline` strategy",
            )
        q, t, c = self._quote, self._quote(op.table), self._quote(op.column)
        check = q(_check_name(op.table, op.column))
        backfill = Backfill(table=t, column=c, value=op.default, key=[q(k) for k in key], table_name=op.table)
        expand = [
            Step(sql=self.sql.add_nullable_column(t, c, op.new_type)),
            Step(sql=self.sql.set_default(t, c, op.default)),
            Step(backfill=backfill),
            *[Step(sql=s) for s in self.sql.guard_not_null(t, c, check)],
        ]
        catch_up = backfill.model_copy(update={"unless_valid": self.sql.validate_sql(t, check)})
        complete = [
            Step(backfill=catch_up),  # rows written NULL between the backfill and the CHECK: usually none
            *[Step(sql=s) for s in self.sql.enforce_not_null(t, c, op.new_type, op.default, check)],
        ]
        return StatementStrategy(
            index=index,
            sql=sql,
            how="expand/contract",
            reason=f"NOT NULL column on a live table: added nullable with DEFAULT {op.default} for new rows, the "
            "old rows backfilled in batches; NOT NULL is enforced by `complete`",
            expand=expand,
            complete=complete,
            undo=[Step(sql=self.sql.drop_column(t, c))],
            app_must=f"write {op.table}.{op.column} on every INSERT (or leave it to its DEFAULT {op.default}) and never "
            "set it to NULL: `complete` makes it NOT NULL",
        )

    def _synced_column(self, index: int, sql: str, op: Operation, ops: list[Operation]) -> StatementStrategy:
        """A rename or a type change: a new column kept in sync with the old one by triggers (both ways for a rename:
        old and new application versions write either name) and backfilled; `complete` enforces NOT NULL, drops the
        triggers, and drops the old column (rename) or swaps the new one in under the old name (type change)."""
        table = self.snapshot.table(op.table)
        column = table.column(op.column)
        key = list(table.primary_columns())
        rename = op.kind == "rename_column"
        why_not = (
            "the column does not exist"
            if column is None
            else f"{op.table} has no primary key (the backfill walks it)"
            if not key
            else _in_use(self.snapshot, table, op.column)
            or ("a USING expression (the trigger could not repeat it)" if op.using else None)
            or (None if rename or not (_default(column) or op.default) else "the column has a DEFAULT to convert")
        )
        if why_not:
            raise self._refused(
                index,
                sql,
                f"the online {'rename' if rename else 'type change'} of {op.table}.{op.column} needs a plain column: "
                + why_not,
                "the `shadow` strategy (a copy of the table with the new schema), or `offline` in a maintenance window",
            )
        q = self._quote
        t, c = q(op.table), q(op.column)
        new_name = op.new_name if rename else _short(f"mm_new_{op.column}", op.table + op.column)
        n, trigger = q(new_name), _short(f"mm_sync_{op.table}_{op.column}", op.table + op.column, 60)
        type_sql = column.type.text if rename else op.new_type
        kinds = {o.kind for o in ops}
        not_null = "set_not_null" in kinds or (
            not column.nullable and "drop_not_null" not in kinds and (rename or op.nullable is not True)
        )
        if not rename and op.nullable is not None:  # MariaDB's MODIFY restates the whole column
            not_null = op.nullable is False
        value = c if rename else self.sql.converted(c, type_sql)
        backfill = Backfill(table=t, column=n, value=value, key=[q(k) for k in key], table_name=op.table)
        check = q(_check_name(op.table, new_name))
        default = _default(column) if rename else None
        complete = [Step(backfill=backfill)]
        if not_null:
            complete += [Step(sql=s) for s in self.sql.guard_not_null(t, n, check)]
            complete += [Step(sql=s) for s in self.sql.enforce_not_null(t, n, type_sql, default, check)]
        if default is not None:
            complete.append(Step(sql=self.sql.set_default(t, n, default)))
        complete += [Step(sql=s) for s in self.sql.drop_sync_triggers(t, trigger)]
        complete.append(Step(sql=self.sql.drop_column(t, c) if rename else self.sql.swap_column(t, c, n)))
        return StatementStrategy(
            index=index,
            sql=sql,
            how="expand/contract",
            reason=(
                f"{op.column} -> {new_name}: a new column kept equal to the old one both ways by triggers and "
                "backfilled; `complete` drops the old column"
                if rename
                else f"a new {type_sql} column kept in sync with {op.column} by a trigger and backfilled; `complete` "
                "swaps it in under the old name in one step"
            ),
            expand=[
                Step(sql=self.sql.add_nullable_column(t, n, type_sql)),
                *[Step(sql=s) for s in self.sql.sync_triggers(t, trigger, c, n, type_sql, rename)],
                Step(backfill=backfill),
            ],
            complete=complete,
            undo=[
                *[Step(sql=s) for s in self.sql.drop_sync_triggers(t, trigger)],
                Step(sql=self.sql.drop_column(t, n)),
            ],
            app_must=(
                f"read and write {op.table}.{new_name} instead of {op.column} (both stay equal until `complete` drops "
                f"{op.column})"
                if rename
                else f"accept {op.table}.{op.column} as {type_sql} as well as its old type: `complete` swaps it in"
            ),
        )

    def _not_null_by_check(self, index: int, sql: str, op: Operation) -> StatementStrategy:
        t, c = self._quote(op.table), self._quote(op.column)
        check = self._quote(_check_name(op.table, op.column))
        column = self.snapshot.table(op.table).column(op.column)
        type_sql = column.type.text if column else ""
        steps = [*self.sql.guard_not_null(t, c, check), *self.sql.enforce_not_null(t, c, type_sql, None, check)]
        return _native(
            index,
            sql,
            steps,
            "a CHECK (c IS NOT NULL) added NOT VALID and validated while writes go on; SET NOT NULL then uses it "
            "instead of scanning the table under ACCESS EXCLUSIVE",
        )

    def _unique_by_index(self, index: int, sql: str, op: Operation) -> StatementStrategy | None:
        if not hasattr(self.sql, "unique_by_index"):
            return None  # MariaDB: by the lock model (an in-place index build where it keeps writes going)
        name = op.constraint_name or _short(f"{op.table}_{'_'.join(op.columns)}_key", op.table + str(op.columns))
        q = self._quote
        steps = self.sql.unique_by_index(
            q(op.table), q(name), [q(c) for c in op.columns], op.constraint_type == "primary_key"
        )
        return _native(
            index,
            sql,
            steps,
            "the unique index built CONCURRENTLY, then the constraint takes it over (no scan)",
            [
                f"ALTER TABLE {q(op.table)} DROP CONSTRAINT IF EXISTS {q(name)}",
                self.sql.drop_index_concurrently(q(name)),
            ],
        )

    def _not_valid_then_validate(self, index: int, sql: str, op: Operation) -> StatementStrategy | None:
        if not self.engine.caps.not_valid_constraints:
            if self.strategy == "auto":
                return None  # by the lock model: shadow where the server copies the table
            raise self._refused(
                index,
                sql,
                f"this server checks a new {op.constraint_type.replace('_', ' ')} by copying the table "
                "(ALGORITHM=COPY), blocking writes",
                "the `shadow` strategy, or `offline` in a maintenance window",
            )
        if op.not_valid:
            return as_written(index, sql, "already NOT VALID: no scan under the lock")
        if not op.constraint_name:
            raise self._refused(
                index, sql, "the constraint has no name, so VALIDATE CONSTRAINT cannot name it", "name it"
            )
        steps = self.sql.not_valid_then_validate(sql, self._quote(op.table), self._quote(op.constraint_name))
        return _native(index, sql, steps, "NOT VALID (a brief lock, no scan), then VALIDATE while writes go on")

    # ---- everything else: by the lock model -------------------------------------------------------------------
    def _by_lock(self, index: int, sql: str, op: Operation, impact: LockImpact | None = None) -> StatementStrategy:
        impact = impact or self._impact(op)
        long_work = impact.rewrites_table or impact.scans_table or impact.builds_index
        if hasattr(self.sql, "without_blocking") and long_work and not impact.blocks_writes:
            # Writes go on by default; LOCK=NONE makes the server refuse rather than fall back to a blocking copy.
            return _native(index, sql, [self.sql.without_blocking(sql)], "LOCK=NONE: the server keeps writes going")
        if not _slow(impact):
            return as_written(index, sql, impact.explanation or "a brief lock only")
        if self.strategy == "auto" and self._rows(op.table) < SMALL_TABLE_ROWS:
            return as_written(index, sql, f"{op.table} is small (< {SMALL_TABLE_ROWS:,} rows): the lock is brief")
        if self.strategy == "auto" and self.shadow is not None and op.kind not in _NOT_ALTER:
            planned = self.shadow(index, sql)
            if isinstance(planned, StatementStrategy):
                return planned
        raise self._refused(
            index,
            sql,
            f"it blocks {impact.blocks} while it {_work(impact)} {op.table}, and has no online form",
            "the `shadow` strategy (a copy with the new schema, swapped in), or `offline` in a maintenance window",
        )

    def _shadowed(self, index: int, sql: str, op: Operation) -> StatementStrategy:
        if op.kind in _NOT_ALTER or not _slow(self._impact(op)):
            return as_written(index, sql, "not a table rewrite: runs as written (a brief lock at most)")
        if self.shadow is None:
            raise self._refused(index, sql, "this database has no shadow copy yet", "online, or offline")
        planned = self.shadow(index, sql)
        if isinstance(planned, list):
            raise self._refused(index, sql, "; ".join(planned), "online, or offline in a maintenance window")
        return planned

    def _several(self, index: int, sql: str, ops: list[Operation]) -> StatementStrategy:
        """An ALTER TABLE with several actions (MariaDB's MODIFY is a type change and a NOT NULL): by the lock
        model as one statement, where no action has a playbook of its own."""
        if any(self._playbook_applies(op) for op in ops):
            raise self._refused(
                index,
                sql,
                "one statement does several things and at least one of them needs an online form of its own",
                "one ALTER TABLE per action: each then gets its own online form",
            )
        live = [op for op in ops if op.table and self.snapshot.table(op.table) is not None]
        return self._by_lock(index, sql, live[0], combine([self._impact(op) for op in live]))

    def _playbook_applies(self, op: Operation) -> bool:
        if op.kind == "add_column":
            return op.nullable is False
        return self.engine.caps.not_valid_constraints and op.kind in ("set_not_null", "add_constraint")

    # ---- helpers ------------------------------------------------------------------------------------------
    def _impact(self, op: Operation) -> LockImpact:
        return lock_impact(op, self.server, self.snapshot)

    def _rows(self, table: str) -> int:
        try:
            return self.engine.table_stats(table).rows
        except Exception:  # noqa: BLE001 - unknown size: assume a big table (never the cheaper guess)
            return SMALL_TABLE_ROWS

    def _quote(self, name: str) -> str:
        return self.sql.quote(name)

    def _refused(self, index: int, sql: str, why: str, instead: str) -> StrategyRefused:
        return StrategyRefused(
            f"Statement {index} ({_preview(sql)}) cannot run under the {self.strategy} strategy: {why}.",
            state="Nothing was run.",
            next_step=f"Use {instead} (`-- strategy: NAME` in the file's header, or `apply --strategy NAME`).",
        )


def _native(index: int, sql: str, steps: list[str], why: str, undo: list[str] = ()) -> StatementStrategy:
    """`undo`: what takes back a half-done run of the steps (a failed CONCURRENTLY build leaves an INVALID index)."""
    return StatementStrategy(
        index=index,
        sql=sql,
        how="native online",
        reason=why,
        expand=[Step(sql=s) for s in steps],
        undo=[Step(sql=s) for s in undo],
    )


def _slow(impact: LockImpact) -> bool:
    """Blocks writes for as long as it reads or copies the table (a catalog-only change holds its lock briefly)."""
    if not impact.known:
        return True
    return impact.blocks_writes and (impact.rewrites_table or impact.scans_table or impact.builds_index)


def _work(impact: LockImpact) -> str:
    if impact.rewrites_table:
        return "rewrites"
    return "builds an index on" if impact.builds_index else "scans"


def _default(column) -> str | None:
    """The column's DEFAULT as the server prints it; MariaDB prints a nullable column's absent one as NULL."""
    return None if column.default is None or column.default.strip().upper() == "NULL" else column.default


def _in_use(snapshot, table, column: str) -> str | None:
    """Why a column is not plain: an index, a constraint or a foreign key uses it (the new column would lack them)."""
    name = column.lower()
    for index in table.indexes.values():
        if name in (c.lower() for c in index.columns):
            return f"index {index.name} uses it"
    for constraint in table.constraints.values():
        if name in (c.lower() for c in constraint.columns) or name in (constraint.definition or "").lower():
            return f"constraint {constraint.name} uses it"
    for other in snapshot.tables.values():
        for constraint in other.constraints.values():
            if (constraint.ref_table or "").lower() == table.name.lower() and name in (
                c.lower() for c in constraint.ref_columns
            ):
                return f"foreign key {constraint.name} of {other.name} references it"
    return None


def _short(name: str, seed: str, limit: int = 63) -> str:
    """`name` within the servers' identifier limit (PostgreSQL 63 bytes, MariaDB 64 characters), kept unique."""
    if len(name.encode()) <= limit:
        return name
    return f"{name[: limit - 17]}_{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def _check_name(table: str, column: str) -> str:
    """The temporary CHECK's name: readable, unique per column, within PostgreSQL's 63 bytes."""
    name = f"mm_{table}_{column}_not_null"
    if len(name.encode()) <= 63:
        return name
    return f"mm_{hashlib.sha256(f'{table}.{column}'.encode()).hexdigest()[:16]}_not_null"


def _preview(sql: str, limit: int = 80) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
