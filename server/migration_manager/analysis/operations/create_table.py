"""CREATE TABLE: a table with its columns, keys and inline constraints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Column, ColumnType, Snapshot, Table, key

if TYPE_CHECKING:
    from ...archive import ArchiveStep
    from ..simulate.replay import Replay


class CreateTable(Operation):
    """CREATE TABLE t (...), or ... AS / LIKE (columns unknown)."""

    kind: Literal["create_table"]
    table_level = True
    recreating = True

    def simulate(self, replay: Replay) -> None:
        if replay.schema.relation_exists(self.table) and not (replay.unknown(self.table) and self.column_specs):
            return replay.exists(self, "table", self.table)
        table = Table(self.table)
        replay.schema.put(table)
        if self.column_specs:
            replay.defined(self.table)
        else:  # CREATE TABLE ... AS / LIKE: columns unknown
            replay.uncertain.add(key(self.table))
        for spec in self.column_specs:
            table.columns[key(spec.name)] = Column(
                spec.name, ColumnType.parse(spec.type, replay.schema.dialect), spec.nullable, spec.default
            )
            if spec.primary_key or spec.unique:
                replay.add_key(self, table, "primary_key" if spec.primary_key else "unique", [spec.name], spec.key_name)
        for constraint in self.constraints:
            constraint.model_copy(
                update={"statement": self.statement, "statement_index": self.statement_index}
            ).simulate(replay)

    def effect_in(self, schema: Snapshot) -> Effect:
        return presence(bool(self.table) and schema.table(self.table) is not None, True, f"table {self.table}")

    def new_table(self, created: set[str]) -> str | None:
        return self.table

    def recreates(self, archived: ArchiveStep) -> bool:
        return key(self.table or "") == key(archived.table)
