"""PostgreSQL VALIDATE CONSTRAINT: a NOT VALID constraint becomes valid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Operation
from ..schema import key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class ValidateConstraint(Operation):
    """VALIDATE CONSTRAINT name."""

    kind: Literal["validate_constraint"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None:
            return
        found = table.constraints.get(key(self.constraint_name or ""))
        if found is None:
            return replay.missing(self, "constraint", self.constraint_name or "", table=table.name)
        found.valid = True
