"""CREATE [OR REPLACE] [MATERIALIZED] VIEW: a relation whose columns the analysis does not read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Operation
from ..schema import Table

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class CreateView(Operation):
    """Creates a view or a materialized view."""

    kind: Literal["create_view"]

    def simulate(self, replay: Replay) -> None:
        """A view or materialized view: a relation whose columns are not read (never reported missing)."""
        existing = replay.schema.table(self.table)
        if existing is not None and not (existing.view and self.if_not_exists):  # OR REPLACE replaces a view only
            return replay.exists(self, "view" if existing.view else "table", self.table)
        replay.schema.put(Table(self.table, view=True))
