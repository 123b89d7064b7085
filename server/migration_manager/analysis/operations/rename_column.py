"""ALTER TABLE t RENAME COLUMN c TO c2: indexes, constraints and foreign keys follow the column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class RenameColumn(Operation):
    """Renames a column; `new_name` is its new name."""

    kind: Literal["rename_column"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None or not replay.columns(self, table, [self.column]) or not self.new_name:
            return
        if table.column(self.new_name) is not None and key(self.new_name) != key(self.column):
            return replay.exists(self, "column", self.new_name, f" on {table.name}")
        column = table.columns.pop(key(self.column))
        column.name = self.new_name
        table.columns[key(self.new_name)] = column
        rename = {key(self.column): self.new_name}
        for item in [*table.indexes.values(), *table.constraints.values()]:
            item.columns = tuple(rename.get(key(c), c) for c in item.columns)
        for other in replay.referencing(table.name):
            for constraint in other.constraints.values():
                if key(constraint.ref_table or "") == key(table.name):
                    constraint.ref_columns = tuple(rename.get(key(c), c) for c in constraint.ref_columns)

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        renamed = table.column(self.new_name or "") is not None and table.column(self.column or "") is None
        return presence(renamed, True, f"column {self.target} renamed to {self.new_name}")
