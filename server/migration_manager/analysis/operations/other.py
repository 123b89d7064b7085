"""A statement no parser reads (CALL, DO, functions, dynamic SQL...): it may create or drop anything."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from ..model import Operation
from ..schema import key

if TYPE_CHECKING:
    from ..simulate.replay import Replay

_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class Other(Operation):
    """What the analysis cannot read; `statement` holds its text."""

    kind: Literal["other"]
    unread = True

    def simulate(self, replay: Replay) -> None:
        """Every name it mentions becomes uncertain: neither missing nor already there until defined again."""
        replay.uncertain |= {key(w) for w in _WORDS.findall(self.statement)}
