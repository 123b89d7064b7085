"""What a rule knows about an operation besides its SQL: the live database (row estimates, column
types, primary keys) and the plan so far (a table created two statements earlier has no rows and
does not exist yet on the server; a renamed table is still found under its old name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .. import dialects
from .locks import LockImpact, Server, lock_impact
from .model import Operation
from .schema import Snapshot, read_schema


class LiveDatabase:
    """The live database for one analysis: its schema snapshot, server version and row estimates,
    each read once."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect
        self._rows: dict[str, int] = {}

    @cached_property
    def snapshot(self) -> Snapshot:
        return read_schema(self.engine)

    @cached_property
    def server(self) -> Server:
        return Server.parse(self.dialect, self.engine.server_version())

    def table_name(self, table: str) -> str | None:
        """The table's name as the server spells it, or None when there is no such table."""
        found = self.snapshot.table(table)
        return found.name if found is not None and not found.view else None

    def estimated_rows(self, table: str) -> int:
        if table not in self._rows:
            self._rows[table] = self.engine.table_stats(table).rows
        return self._rows[table]

    def column_type(self, table: str, column: str) -> str | None:
        found = self.snapshot.table(table)
        described = found.column(column) if found is not None else None
        return described.type.text if described is not None else None

    def primary_key(self, table: str) -> list[str]:
        found = self.snapshot.table(table)
        return list(found.primary_columns()) if found is not None else []

    def lock(self, op: Operation) -> LockImpact:
        """What the operation's lock blocks on this server (analysis/locks)."""
        return lock_impact(self.snapshot.resolve(op), self.server, self.snapshot)


@dataclass
class PlanState:
    """The schema as the plan has changed it so far, relative to the live database."""

    live: LiveDatabase
    created: set[str] = field(default_factory=set)  # tables created earlier in the plan
    dropped: set[str] = field(default_factory=set)
    table_origin: dict[str, str] = field(default_factory=dict)  # current name -> live name (renames)
    # table -> column -> the add_column that created it: by table, so a rule's context reads one table's
    # columns, not every column the plan added so far (that made a long plan's analysis quadratic)
    added_columns: dict[str, dict[str, Operation]] = field(default_factory=dict)
    column_origin: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, current) -> live name
    data_changes: dict[str, list[tuple[str | None, Operation]]] = field(default_factory=dict)  # live table ->
    # the plan's UPDATE / DELETE of it so far, with their migration

    def live_table(self, table: str | None) -> str | None:
        """The live table an operation's table is, or None when the plan created it (no rows yet)."""
        if table is None or table in self.created or table in self.dropped:
            return None
        return self.live.table_name(self.table_origin.get(table, table))

    def live_column(self, table: str, column: str) -> str:
        return self.column_origin.get((table, column), column)

    def context(self, op: Operation, **common) -> OperationContext:
        table = op.table or ""
        live_table = self.live_table(op.table)
        added_here = self.added_columns.get(table, {})
        added = added_here.get(op.column or "")
        names = {c: None if c in added_here else self.live_column(table, c) for c in op.columns}
        parent = self.live_table(op.ref_table) if op.ref_table else None
        return OperationContext(
            op=op,
            live=self.live,
            live_table=live_table,
            live_column=self.live_column(table, op.column) if op.column else None,
            added_in_plan=added,
            columns_live=names,
            added_columns=frozenset(added_here),
            parent_live=parent,
            parent_created=op.ref_table in self.created,
            data_changed_by=tuple(self.data_changes.get(live_table or "", ())),
            **common,
        )

    def record(self, op: Operation, migration: str | None) -> None:
        """`apply`, plus the data changes: a count measured on the live table describes it before them."""
        live_table = self.live_table(op.table)
        if op.kind in ("update", "delete") and live_table is not None:
            self.data_changes.setdefault(live_table, []).append((migration, op))
        self.apply(op)

    def apply(self, op: Operation) -> None:
        table = op.table or ""
        if op.kind == "create_table":
            self.created.add(table)
            self.dropped.discard(table)
        elif op.kind == "drop_table":
            self.dropped.add(table)
            self.created.discard(table)
        elif op.kind == "rename_table" and op.new_name:
            if table in self.created:
                self.created.discard(table)
                self.created.add(op.new_name)
            else:
                self.table_origin[op.new_name] = self.table_origin.pop(table, table)
        elif op.kind == "add_column" and op.column:
            self.added_columns.setdefault(table, {})[op.column] = op
        elif op.kind == "rename_column" and op.column and op.new_name:
            added = self.added_columns.get(table, {}).pop(op.column, None)
            if added is not None:
                self.added_columns[table][op.new_name] = added
            else:
                self.column_origin[(table, op.new_name)] = self.column_origin.pop((table, op.column), op.column)


@dataclass(frozen=True)
class OperationContext:
    """Everything a rule may ask about one operation, frozen at the moment it runs in the plan."""

    op: Operation
    live: LiveDatabase
    live_table: str | None  # None: created by the plan (empty), or not on the server
    live_column: str | None  # the column's name on the server (renames followed)
    added_in_plan: Operation | None  # the add_column earlier in the plan that created this column
    columns_live: dict[str, str | None]  # op.columns -> name on the server, None when added by the plan
    added_columns: frozenset[str]  # columns the plan added to this table so far (not on the server yet)
    parent_live: str | None  # foreign keys: the referenced table on the server
    parent_created: bool  # foreign keys: the plan creates the referenced table (it is empty)
    migration: str | None
    direction: str
    script: tuple[Operation, ...]  # every operation of the same script, in order
    transactional: bool  # the script runs in one transaction
    lock_timeout_ms: int | None  # what the runner sets (settings), before any SET in the script
    data_changed_by: tuple[tuple[str | None, Operation], ...] = ()  # earlier UPDATE/DELETE of live_table

    @property
    def dialect(self) -> str:
        return self.live.dialect

    @property
    def probed(self) -> bool:
        """Data can be probed: the table exists on the server and the column (if any) does too."""
        return self.live_table is not None and self.added_in_plan is None

    def live_columns(self) -> list[str] | None:
        """op.columns as the server names them; None when any of them does not exist there yet."""
        names = [self.columns_live.get(c) for c in self.op.columns]
        return None if any(n is None for n in names) else names

    def columns_known_live(self, sql: str) -> bool:
        """Every column the expression names exists on the server (none was added by the plan)."""
        from sqlglot import exp

        try:
            names = {c.name for c in exp.condition(sql, dialect=self.dialect).find_all(exp.Column)}
        except Exception:  # noqa: BLE001 - an expression sqlglot cannot read is not probed
            return False
        return not names & self.added_columns

    def ident(self, name: str) -> str:
        """`name` in SQL shown to the user (a safe rewrite), quoted where this dialect needs it."""
        return dialects.get(self.dialect).as_written(name)

    def estimated_rows(self) -> int:
        return self.live.estimated_rows(self.live_table) if self.live_table else 0

    def earlier(self) -> list[Operation]:
        return [o for o in self.script if o.statement_index < self.op.statement_index]

    def lock_timeout_set(self) -> bool:
        if self.lock_timeout_ms:
            return True
        return any(o.kind == "set_lock_timeout" and o.value not in ("0", "DEFAULT") for o in self.earlier())
