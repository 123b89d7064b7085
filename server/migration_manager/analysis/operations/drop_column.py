"""ALTER TABLE t DROP COLUMN c: the indexes and constraints on it go too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Destroyed, Effect, Loss, Operation, presence
from ..schema import Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class DropColumn(Operation):
    """Drops a column."""

    kind: Literal["drop_column"]
    destructive = True
    loss = Loss("drops column {table}.{column}", unit="non-null values")

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None or not replay.columns(self, table, [self.column]):
            return
        name = key(self.column)
        for other in replay.referencing(table.name):
            for constraint in list(other.constraints.values()):
                if (
                    other is not table
                    and name in map(key, constraint.ref_columns)
                    and key(constraint.ref_table or "") == key(table.name)
                ):
                    if not self.cascade:
                        replay.report(
                            self,
                            "schema-still-referenced",
                            "error",
                            "column still referenced",
                            f"{table.name}.{self.column} is referenced by foreign key {other.name}."
                            f"{constraint.name}: DROP COLUMN fails without CASCADE.",
                            "Drop the foreign key first.",
                        )
                    other.constraints.pop(key(constraint.name))
        table.columns.pop(name, None)
        # The server drops indexes and constraints on the column along with it.
        table.indexes = {n: i for n, i in table.indexes.items() if name not in map(key, i.columns)}
        table.constraints = {n: c for n, c in table.constraints.items() if name not in map(key, c.columns)}

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        return presence(table.column(self.column or "") is not None, False, f"column {self.target}")

    def destroys(self, table: Table, dialect: str) -> Destroyed | None:
        column = table.column(self.column or "")
        return Destroyed("column", column) if column is not None else None
