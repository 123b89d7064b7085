"""Does a statement parse on MariaDB/MySQL? sqlglot says, except for compound routine bodies it cannot read
(CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT), which the server checks when they run. A statement shaped like one
sqlglot already accepted (the same text but for its literals: a bulk load's 400k INSERTs) is accepted without
parsing it again."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_ROUTINE = re.compile(
    r"^\s*create\s+(or\s+replace\s+)?(definer\s*=\s*\S+\s+)?(procedure|function|trigger|event)\b", re.IGNORECASE
)
# What may follow CREATE / DROP in MySQL; sqlglot reads anything else as an opaque command, typos included.
_OBJECTS = {
    "table",
    "index",
    "view",
    "database",
    "schema",
    "procedure",
    "function",
    "trigger",
    "event",
    "user",
    "role",
    "sequence",
    "server",
    "tablespace",
    "temporary",
    "unique",
    "fulltext",
    "spatial",
    "or",
    "definer",
    "algorithm",
    "sql",
    "if",
    "online",
    "offline",
    "aggregate",
    "logfile",
    "package",
}
_CREATE_OR_DROP = re.compile(r"^\s*(create|drop)\s+(?P<what>[a-z_]+)", re.IGNORECASE)
# A statement's shape: its text with each '...' string and decimal number replaced by one placeholder, read as
# sqlglot's MySQL tokenizer reads it (backslash escapes, doubled quotes; backticked names, "..." strings and
# comments are kept whole, so no quote inside them is taken for a literal). Prefixed strings (x'..', _utf8'..')
# and numbers touching a word or a dot are kept as written: their text may matter to the parser.
_LITERALS = re.compile(
    r"""(?P<kept>`(?:``|[^`])*+`|"(?:\\[\s\S]|""|[^"\\])*+"|--[^\n]*+|\#[^\n]*+|/\*[\s\S]*?\*/)"""
    r"""|(?P<string>(?<![\w'])'(?:\\[\s\S]|''|[^'\\])*+')"""
    r"""|(?<![\w.])\d++(?:\.\d++)?(?:[eE][-+]?\d++)?(?![\w.])"""
)


@contextmanager
def statement_checker() -> Iterator[Callable[[str], tuple[str, int] | None]]:
    """A function giving (message, line offset inside the statement) when a statement does not parse."""
    # Shapes sqlglot parsed without error; a refused one is parsed each time (its message names its text).
    accepted: set[str] = set()
    yield lambda statement: _routine_or_error(statement, accepted)


def _routine_or_error(statement: str, accepted: set[str]) -> tuple[str, int] | None:
    start = _strip_leading_comments(statement)
    if _ROUTINE.match(start):
        return None
    found = _CREATE_OR_DROP.match(start)
    if found and found["what"].lower() not in _OBJECTS:
        return f"unknown object kind '{found['what']}' after {found[1].upper()}", 0
    # A literal's value never changes whether sqlglot parses: a shape accepted once is accepted (~300 us a parse).
    shape = _LITERALS.sub(_placeholder, statement)
    if shape in accepted:
        return None
    problem = _sqlglot_error(statement)
    if problem is None:
        accepted.add(shape)
    return problem


def _placeholder(literal: re.Match[str]) -> str:
    return literal["kept"] or ("''" if literal["string"] else "0")


def _sqlglot_error(statement: str) -> tuple[str, int] | None:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    sqlglot_log = logging.getLogger("sqlglot")
    was_disabled, sqlglot_log.disabled = sqlglot_log.disabled, True  # its "falling back to Command" warnings
    try:
        sqlglot.parse(statement, read="mysql")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        description = first.get("description") or " ".join(str(exc).split())[:300]
        return description, max(int(first.get("line") or 1) - 1, 0)
    except TokenError as exc:
        return " ".join(str(exc).split())[:300], 0
    finally:
        sqlglot_log.disabled = was_disabled
    return None


def _strip_leading_comments(statement: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", statement, flags=re.DOTALL)
