"""CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON t (...) (MySQL ADD INDEX too)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Index, Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class CreateIndex(Operation):
    """Creates an index on columns or expressions."""

    kind: Literal["create_index"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None:
            return
        name = self.index_name or replay.generated_name(table, self.columns, "idx")
        clash = replay.schema.index_owner(name, table.name) or (
            replay.schema.naming.index_names == "schema" and replay.schema.relation_exists(name) and name
        )
        clash = clash and not replay.unknown(name, clash)
        if clash and self.if_not_exists and replay.schema.naming.if_not_exists_by_name:
            return  # MySQL and SQLite look for the name first: skipped, even on columns that do not exist
        if not replay.columns(self, table, self.columns):
            return
        if clash:
            if not self.if_not_exists:
                replay.report(
                    self,
                    "schema-duplicate-name",
                    "error",
                    "duplicate index name",
                    f"An index or relation named {name} already exists ({clash}): the statement fails.",
                    "Give the index another name.",
                )
            return
        table.indexes[key(name)] = Index(name, table.name, tuple(self.columns), self.unique)
        replay.schema.note_index(name, table.name)
        replay.defined(name)

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        if not self.index_name:
            return super().effect_on(table, schema)
        return presence(key(self.index_name) in table.indexes, True, f"index {self.index_name}")
