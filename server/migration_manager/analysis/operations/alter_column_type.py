"""ALTER COLUMN c TYPE t2 (MySQL MODIFY / CHANGE): the server may refuse the conversion, and values
that do not fit the new type are lost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Destroyed, Effect, Operation, presence
from ..schema import Column, ColumnType, Snapshot, Table, key
from ..type_families import may_lose_values

if TYPE_CHECKING:
    from ...archive import ArchiveStep
    from ..simulate.replay import Replay


class AlterColumnType(Operation):
    """Changes a column's type (MySQL: redefines the column in full)."""

    kind: Literal["alter_column_type"]
    destructive = recreating = True

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None or not replay.columns(self, table, [self.column]) or not self.new_type:
            return
        from ..simulate.type_rules import type_change_problem  # simulate/ reads operations: loaded once both are

        column = table.column(self.column)
        new = ColumnType.parse(self.new_type, replay.schema.dialect)
        problem = type_change_problem(column.type, new, replay.schema.dialect, using=bool(self.using))
        if problem:
            replay.report(
                self,
                "schema-incompatible-type",
                problem[0],
                "incompatible type change",
                problem[1],
                "Convert explicitly (USING ...), or add a new column, backfill it and swap.",
            )
        column.type = new
        if self.nullable is not None:
            column.nullable = self.nullable
        if self.new_name and key(self.new_name) != key(self.column):
            return  # MySQL CHANGE: the rename follows as its own operation
        self._check_foreign_keys_of(replay, table, column)

    def _check_foreign_keys_of(self, replay: Replay, table: Table, column: Column) -> None:
        """After a type change, every foreign key from or to the column must still match."""
        for other in replay.schema.foreign_key_holders():
            for constraint in other.constraints.values():
                if constraint.kind != "foreign_key":
                    continue
                pairs = list(zip(constraint.columns, constraint.ref_columns))
                for local, remote in pairs:
                    if other is table and key(local) == key(column.name):
                        replay.fk_type(self, other, local, constraint.ref_table, remote, judge_later=True)
                    elif key(constraint.ref_table or "") == key(table.name) and key(remote) == key(column.name):
                        replay.fk_type(self, other, local, table.name, remote, judge_later=True)

    def resolved(self, schema: Snapshot) -> Operation:
        """The column's type before the change, from the schema."""
        table = schema.table(self.table) if self.table else None
        column = table.column(self.column) if table is not None and self.column else None
        if self.old_type is not None or column is None:
            return self
        return self.model_copy(update={"old_type": column.type.text})

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        column = table.column(self.column or "")
        if column is None or not self.new_type:
            return super().effect_on(table, schema)
        wanted = ColumnType.parse(self.new_type, schema.dialect).normalized
        return presence(column.type.normalized == wanted, True, f"{self.target} is {column.type.text}")

    def destroys(self, table: Table, dialect: str) -> Destroyed | None:
        column = table.column(self.column or "")
        if column is None or not may_lose_values(column.type.text, self.new_type, dialect):
            return None
        return Destroyed("values", column)

    def recreates(self, archived: ArchiveStep) -> bool:
        return archived.what == "values" and archived.holds(self.table, self.column)
