"""INSERT, UPDATE and DELETE: rows change, the schema stays (the table must exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Loss, Operation

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class Insert(Operation):
    """INSERT INTO t ..."""

    kind: Literal["insert"]

    def simulate(self, replay: Replay) -> None:
        replay.table(self)  # the table must exist


class Update(Operation):
    """UPDATE t SET ... (`columns`: those it sets; `where`: its WHERE)."""

    kind: Literal["update"]

    def simulate(self, replay: Replay) -> None:
        replay.table(self)  # the table must exist


class Delete(Operation):
    """DELETE FROM t [WHERE ...]."""

    kind: Literal["delete"]
    loss = Loss("deletes rows from {table}", some=True)

    def simulate(self, replay: Replay) -> None:
        replay.table(self)  # the table must exist
