"""ALTER COLUMN c SET DEFAULT ... / DROP DEFAULT: the catalog only, no trace the crash check reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Operation

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class SetDefault(Operation):
    """ALTER COLUMN c SET DEFAULT expression."""

    kind: Literal["set_default"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is not None and replay.columns(self, table, [self.column]):
            table.column(self.column).default = self.default


class DropDefault(Operation):
    """ALTER COLUMN c DROP DEFAULT."""

    kind: Literal["drop_default"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is not None and replay.columns(self, table, [self.column]):
            table.column(self.column).default = None
