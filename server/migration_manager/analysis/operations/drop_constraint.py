"""DROP CONSTRAINT name / DROP PRIMARY KEY / MySQL DROP FOREIGN KEY, CHECK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Snapshot, Table, key
from .add_constraint import has_constraint

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class DropConstraint(Operation):
    """Drops a constraint (a key's index with it)."""

    kind: Literal["drop_constraint"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None:
            return
        if self.constraint_type == "primary_key" and not self.constraint_name:
            found = next((c for c in table.constraints.values() if c.kind == "primary_key"), None)
        else:
            found = table.constraints.get(key(self.constraint_name or ""))
        if found is None:
            return replay.missing(self, "constraint", self.constraint_name or "primary key", table=table.name)
        del table.constraints[key(found.name)]
        if found.kind in ("primary_key", "unique"):
            table.indexes.pop(key(found.name), None)

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        if not self.constraint_name:
            return super().effect_on(table, schema)
        return presence(has_constraint(table, self.constraint_name), False, f"constraint {self.constraint_name}")
