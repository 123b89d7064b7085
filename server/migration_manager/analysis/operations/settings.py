"""SET statements: the session changes, the schema does not."""

from __future__ import annotations

from typing import Literal

from ..model import Operation


class SetLockTimeout(Operation):
    """SET lock_timeout / lock_wait_timeout (`column`: the name, `value`)."""

    kind: Literal["set_lock_timeout"]
    session_only = True


class SetStatementTimeout(Operation):
    """SET statement_timeout / max_statement_time / max_execution_time."""

    kind: Literal["set_statement_timeout"]
    session_only = True


class Set(Operation):
    """Any other SET."""

    kind: Literal["set"]
    session_only = True
