"""ALTER TABLE t RENAME TO t2 (MySQL RENAME TABLE): foreign keys and SQLite's key indexes follow the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Index, Snapshot, Table, key

if TYPE_CHECKING:
    from ...archive import ArchiveStep
    from ..simulate.replay import Replay


class RenameTable(Operation):
    """Renames a table; `new_name` is its new name."""

    kind: Literal["rename_table"]
    table_level = True
    recreating = True

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None or not self.new_name:
            return
        if replay.schema.relation_exists(self.new_name):
            return replay.exists(self, "table", self.new_name)
        replay.schema.remove(table.name)
        old, table.name = table.name, self.new_name
        if replay.schema.naming.autoindex_prefix:
            table.indexes = self._autoindexes_renamed(table, old, replay.schema.naming.autoindex_prefix)
        replay.schema.put(table)
        for other in replay.referencing(old):
            for constraint in other.constraints.values():
                if key(constraint.ref_table or "") == key(old):
                    constraint.ref_table = self.new_name

    def effect_in(self, schema: Snapshot) -> Effect:
        gone = not self.table or schema.table(self.table) is None
        renamed = schema.table(self.new_name or "") is not None and gone
        return presence(renamed, True, f"table {self.table} renamed to {self.new_name}")

    def tables(self) -> list[str]:
        return [t for t in (self.table, self.new_name) if t]

    def new_table(self, created: set[str]) -> str | None:
        return self.new_name if self.table in created else None

    def recreates(self, archived: ArchiveStep) -> bool:
        return key(self.new_name or "") == key(archived.table)

    @staticmethod
    def _autoindexes_renamed(table: Table, old: str, autoindex: str) -> dict[str, Index]:
        """SQLite renames a table's key indexes with it: sqlite_autoindex_<old>_<n> becomes ..._<new>_<n>."""
        prefix, renamed = key(f"{autoindex}{old}_"), {}
        for name, index in table.indexes.items():
            if name.startswith(prefix):
                index.name = f"{autoindex}{table.name}_{index.name[len(prefix) :]}"
            renamed[key(index.name)] = index
        return renamed
