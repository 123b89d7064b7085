"""DROP INDEX name [ON t]: PostgreSQL names only the index, its table is found in the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class DropIndex(Operation):
    """Drops an index (a MySQL UNIQUE constraint's with it)."""

    kind: Literal["drop_index"]

    def located(self, index_table: Callable[[str], str | None]) -> Operation:
        """PostgreSQL's DROP INDEX names only the index: its table is in the catalog."""
        if self.table or not self.index_name:
            return self
        return self.model_copy(update={"table": index_table(self.index_name)})

    def resolved(self, schema: Snapshot) -> Operation:
        return self.located(schema.index_table)

    def simulate(self, replay: Replay) -> None:
        table = replay.schema.edit(self.table) if self.table else None
        name = self.index_name or ""
        if table is None or key(name) not in table.indexes:
            return replay.missing(self, "index", name, table=self.table)
        del table.indexes[key(name)]
        table.constraints.pop(key(name), None)  # a UNIQUE constraint's index (MySQL DROP INDEX)

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        if not self.index_name:
            return super().effect_on(table, schema)
        return presence(key(self.index_name) in table.indexes, False, f"index {self.index_name}")
