"""DROP TABLE: the table goes, with the foreign keys that reference it where the server drops them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Destroyed, Effect, Loss, Operation, presence
from ..schema import Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class DropTable(Operation):
    """DROP TABLE t [CASCADE]."""

    kind: Literal["drop_table"]
    table_level = True
    destructive = True
    loss = Loss("drops table {table}")

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None:
            return
        dropped = key(table.name)
        referencing = [
            (t, c)
            for t in replay.schema.foreign_key_holders()
            if t is not table
            for c in t.constraints.values()
            if c.kind == "foreign_key" and key(c.ref_table or "") == dropped
        ]
        # Foreign keys by name (SQLite) let a referenced table go (its rebuild recipe: new table, copy, drop,
        # rename): no error there.
        by_name = replay.foreign_keys_by_name
        if referencing and not self.cascade and not by_name:
            names = ", ".join(f"{t.name}.{c.name}" for t, c in referencing)
            replay.report(
                self,
                "schema-still-referenced",
                "error",
                "table still referenced",
                f"{table.name} is referenced by foreign key(s) {names}: DROP TABLE fails without CASCADE.",
                "Drop the foreign keys first (or the referencing tables).",
            )
        if not by_name:  # a foreign key that names its table binds to a new table of that name
            for other, constraint in referencing:
                replay.schema.edit(other.name).constraints.pop(key(constraint.name), None)
        replay.schema.remove(table.name)

    def effect_in(self, schema: Snapshot) -> Effect:
        return presence(bool(self.table) and schema.table(self.table) is not None, False, f"table {self.table}")

    def destroys(self, table: Table, dialect: str) -> Destroyed | None:
        return Destroyed("table")
