"""DROP [MATERIALIZED] VIEW."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Operation

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class DropView(Operation):
    """Drops a view or a materialized view."""

    kind: Literal["drop_view"]

    def simulate(self, replay: Replay) -> None:
        existing = replay.schema.table(self.table)
        if existing is None or not existing.view:
            return replay.missing(self, "view", self.table)
        replay.schema.remove(self.table)
