"""Does each statement parse for its dialect? Each problem names the file's line.

PostgreSQL: pglast (PostgreSQL's own parser). SQLite: SQLite's own parser, by compiling
`EXPLAIN <statement>` in an empty in-memory database (a syntax error is reported before any
name is resolved, so "no such table" is not a syntax problem). MySQL/MariaDB: sqlglot, except
compound routine bodies it cannot read (CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT), which the
server checks when they run. A statement shaped like one sqlglot already accepted (the same text but for
its literals: a bulk load's 400k INSERTs) is accepted without parsing it again.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .model import Migration, Script

_ROUTINE = re.compile(
    r"^\s*create\s+(or\s+replace\s+)?(definer\s*=\s*\S+\s+)?(procedure|function|trigger|event)\b", re.IGNORECASE
)
_SQLITE_SYNTAX = ("syntax error", "incomplete input", "unrecognized token")
_SQLITE_NO_TABLE = re.compile(r"no such table: (.+)$")
_SQLITE_TABLES_TRIED = 4
# What may follow CREATE / DROP in MySQL; sqlglot reads anything else as an opaque command, typos included.
_MYSQL_OBJECTS = {
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


@dataclass(frozen=True)
class SyntaxProblem:
    """A statement the dialect's parser rejects: where it is and the parser's message."""

    direction: str  # "up" | "down"
    index: int  # 1-based, in the script
    line: int  # in the file; 0 when the file cannot be matched
    message: str
    statement: str

    def describe(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.direction.upper()} statement {self.index}{where}: {self.message}"


def syntax_errors(migration: Migration, dialect: str) -> list[str]:
    return [problem.describe() for problem in syntax_problems(migration, dialect)]


def syntax_problems(
    migration: Migration, dialect: str, directions: tuple[str, ...] = ("up", "down")
) -> list[SyntaxProblem]:
    scripts = {"up": (migration.up, migration.path), "down": (migration.down, migration.down_path or migration.path)}
    problems = []
    with _statement_checker(dialect) as statement_error:
        for direction in directions:
            script, path = scripts[direction]
            if script is None:
                continue
            for index, (statement, first_line) in enumerate(statement_lines(script, path), start=1):
                problem = statement_error(statement)
                if problem:
                    message, line_in_statement = problem
                    line = first_line + line_in_statement if first_line else 0
                    problems.append(SyntaxProblem(direction, index, line, message, statement))
    return problems


@contextmanager
def _statement_checker(dialect: str) -> Iterator[Callable[[str], tuple[str, int] | None]]:
    """A function giving (message, line offset inside the statement) when a statement does not parse.
    SQLite's checks share one in-memory probe database (opening one per statement cost more than the check)."""
    if dialect == "postgres":
        yield _postgres_error
    elif dialect == "sqlite":
        probe = sqlite3.connect(":memory:", isolation_level=None)
        try:
            yield lambda statement: _sqlite_error(statement, probe)
        finally:
            probe.close()
    else:
        # Shapes sqlglot parsed without error; a refused one is parsed each time (its message names its text).
        accepted: set[str] = set()
        yield lambda statement: _mysql_or_routine_error(statement, accepted)


def _mysql_or_routine_error(statement: str, accepted: set[str]) -> tuple[str, int] | None:
    start = _strip_leading_comments(statement)
    if _ROUTINE.match(start):
        return None
    found = _CREATE_OR_DROP.match(start)
    if found and found["what"].lower() not in _MYSQL_OBJECTS:
        return f"unknown object kind '{found['what']}' after {found[1].upper()}", 0
    # A literal's value never changes whether sqlglot parses: a shape accepted once is accepted (~300 us a parse).
    shape = _LITERALS.sub(_placeholder, statement)
    if shape in accepted:
        return None
    problem = _mysql_error(statement)
    if problem is None:
        accepted.add(shape)
    return problem


def _placeholder(literal: re.Match[str]) -> str:
    return literal["kept"] or ("''" if literal["string"] else "0")


def _postgres_error(statement: str) -> tuple[str, int] | None:
    from pglast import parser

    try:
        parser.parse_sql_json(statement)  # the same parser as parse_sql, without building Python objects (~20x faster)
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        return str(exc.args[0]), statement.count("\n", 0, location)
    return None


def _sqlite_error(statement: str, probe: sqlite3.Connection) -> tuple[str, int] | None:
    for _ in range(_SQLITE_TABLES_TRIED):
        try:
            probe.execute(f"EXPLAIN {statement}")
            return None
        except sqlite3.Error as exc:
            if any(marker in str(exc) for marker in _SQLITE_SYNTAX):
                return str(exc), _line_of_token(statement, str(exc))
            missing = _SQLITE_NO_TABLE.match(str(exc))
            if not missing:
                return None
            # ALTER TABLE looks its table up before it reads the rest: give it one (kept for the next
            # statements: EXPLAIN never runs anything, so a probe table only spares later lookups), and read on.
            probe.execute(f"CREATE TABLE {_sqlite_name(missing[1])} (_mm_probe)")
    return None


def _sqlite_name(name: str) -> str:
    schema, _, table = name.rpartition(".") if name.startswith(("main.", "temp.")) else ("", "", name)
    quoted = '"' + table.replace('"', '""') + '"'
    return f"{schema}.{quoted}" if schema else quoted


def _mysql_error(statement: str) -> tuple[str, int] | None:
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


def statement_lines(script: Script, path: Path | None) -> list[tuple[str, int]]:
    """Each statement with the file line it starts on (0 when the file cannot be matched)."""
    try:
        text = path.read_text(encoding="utf-8") if path else ""
    except OSError:
        text = ""
    cursor = text.find(script.source) if script.source and script.source in text else 0
    # Lines are counted from the previous statement on, never from the top: a file of 400k statements
    # would otherwise be read 400k times over.
    counted_to, line = 0, 1
    found = []
    for statement in script.statements:
        at = text.find(statement, cursor)
        if at < 0:
            found.append((statement, 0))
            continue
        cursor = at + len(statement)
        start = at + len(statement) - len(statement.lstrip())
        line += text.count("\n", counted_to, start)
        counted_to = start
        found.append((statement, line))
    return found


def _line_of_token(statement: str, message: str) -> int:
    near = re.search(r'near "([^"]+)"', message)
    at = statement.find(near[1]) if near else -1
    return statement.count("\n", 0, at) if at >= 0 else 0


def _strip_leading_comments(statement: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", statement, flags=re.DOTALL)
