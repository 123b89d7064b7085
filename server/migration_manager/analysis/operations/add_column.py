"""ALTER TABLE t ADD COLUMN c type ..."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Column, ColumnType, Snapshot, Table, key

if TYPE_CHECKING:
    from ...archive import ArchiveStep
    from ..simulate.replay import Replay


class AddColumn(Operation):
    """Adds a column: its type, NOT NULL and DEFAULT as written."""

    kind: Literal["add_column"]
    recreating = True

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None:
            return
        if table.column(self.column) is not None:
            return replay.exists(self, "column", self.column, f" on {table.name}")
        nullable = self.nullable is not False
        table.columns[key(self.column)] = Column(
            self.column, ColumnType.parse(self.new_type or "", replay.schema.dialect), nullable, self.default
        )

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        return presence(table.column(self.column or "") is not None, True, f"column {self.target}")

    def recreates(self, archived: ArchiveStep) -> bool:
        return archived.holds(self.table, self.column)
