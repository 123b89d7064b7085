"""TRUNCATE t: every row goes, the schema stays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Loss, Operation

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class Truncate(Operation):
    """Empties a table."""

    kind: Literal["truncate"]
    table_level = True
    loss = Loss("empties table {table}")

    def simulate(self, replay: Replay) -> None:
        replay.table(self)  # the table must exist
