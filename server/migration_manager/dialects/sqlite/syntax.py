"""Does a statement parse on SQLite? SQLite's own parser says, by compiling `EXPLAIN <statement>` in an empty
in-memory database (a syntax error is reported before any name is resolved, so "no such table" is not a syntax
problem)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import DIALECT

_SYNTAX = ("syntax error", "incomplete input", "unrecognized token")
_NO_TABLE = re.compile(r"no such table: (.+)$")
_TABLES_TRIED = 4


@contextmanager
def statement_checker() -> Iterator[Callable[[str], tuple[str, int] | None]]:
    """A function giving (message, line offset inside the statement) when a statement does not parse. The checks
    share one in-memory probe database (opening one per statement cost more than the check)."""
    probe = sqlite3.connect(":memory:", isolation_level=None)
    try:
        yield lambda statement: statement_error(statement, probe)
    finally:
        probe.close()


def statement_error(statement: str, probe: sqlite3.Connection) -> tuple[str, int] | None:
    for _ in range(_TABLES_TRIED):
        try:
            probe.execute(f"EXPLAIN {statement}")
            return None
        except sqlite3.Error as exc:
            if any(marker in str(exc) for marker in _SYNTAX):
                return str(exc), _line_of_token(statement, str(exc))
            missing = _NO_TABLE.match(str(exc))
            if not missing:
                return None
            # ALTER TABLE looks its table up before it reads the rest: give it one (kept for the next
            # statements: EXPLAIN never runs anything, so a probe table only spares later lookups), and read on.
            probe.execute(f"CREATE TABLE {_table_name(missing[1])} (_mm_probe)")
    return None


def _table_name(name: str) -> str:
    schema, _, table = name.rpartition(".") if name.startswith(("main.", "temp.")) else ("", "", name)
    quoted = DIALECT.quote(table)
    return f"{schema}.{quoted}" if schema else quoted


def _line_of_token(statement: str, message: str) -> int:
    near = re.search(r'near "([^"]+)"', message)
    at = statement.find(near[1]) if near else -1
    return statement.count("\n", 0, at) if at >= 0 else 0
