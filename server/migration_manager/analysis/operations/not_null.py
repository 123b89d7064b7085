"""ALTER COLUMN c SET / DROP NOT NULL."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from ..model import Effect, Operation, presence
from ..schema import Snapshot, Table

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class _Nullability(Operation):
    """What the two kinds share: the column is NOT NULL after them, or not."""

    not_null: ClassVar[bool]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is not None and replay.columns(self, table, [self.column]):
            table.column(self.column).nullable = not self.not_null

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        column = table.column(self.column or "")
        if column is None:
            return super().effect_on(table, schema)
        return presence(not column.nullable, self.not_null, f"NOT NULL on {self.target}")


class SetNotNull(_Nullability):
    """ALTER COLUMN c SET NOT NULL (and a MySQL MODIFY ... NOT NULL)."""

    kind: Literal["set_not_null"]
    not_null = True


class DropNotNull(_Nullability):
    """ALTER COLUMN c DROP NOT NULL."""

    kind: Literal["drop_not_null"]
    not_null = False
