"""Splitting SQL scripts into statements, and normalizing statements for checksums.

PostgreSQL scripts are split by pglast's scanner (exact for $$ bodies, E'' strings, etc.).
SQLite scripts are split where `sqlite3.complete_statement` says a statement ends (exact for
CREATE TRIGGER ... BEGIN ... END). MySQL/MariaDB scripts are split by the small lexer below,
which knows quotes, comments, DELIMITER lines and BEGIN ... END compound bodies.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

from ..errors import MigrationFileError

_TX_CONTROL = re.compile(
    r"^(begin|start\s+transaction|commit|end|rollback)(\s+(work|transaction))?(\s*;)?$", re.IGNORECASE
)
_DELIMITER = re.compile(r"^\s*delimiter\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_ROUTINE = re.compile(
    r"^create\s+(or\s+replace\s+)?(definer\s*=\s*\S+\s+)?(procedure|function|trigger|event)\b", re.IGNORECASE
)
_OPENERS = {"begin", "case", "if", "loop", "while", "repeat"}
_DOLLAR_TAG = re.compile(r"\$[A-Za-z_]*\$")
_STATEMENT_START = {";", "begin", "then", "else", "do", ":", "loop", "repeat"}


def tokens(sql: str, dialect: str) -> Iterator[tuple[str, str]]:
    """Yield (kind, text) with kind in ws | comment | string | word | punct."""
    i, n = 0, len(sql)
    while i < n:
        kind, j = _next_token(sql, i, dialect)
        yield kind, sql[i:j]
        i = j


def _next_token(sql: str, i: int, dialect: str) -> tuple[str, int]:
    n, c = len(sql), sql[i]
    if c.isspace():
        j = i
        while j < n and sql[j].isspace():
            j += 1
        return "ws", j
    if sql.startswith("--", i) or (c == "#" and dialect == "mysql"):
        j = sql.find("\n", i)
        return "comment", n if j < 0 else j
    if sql.startswith("/*", i):
        j = sql.find("*/", i + 2)
        return "comment", n if j < 0 else j + 2
    if c in "'\"`":
        return "string", _end_of_quote(sql, i, c, backslash=dialect == "mysql")
    if c == "$" and dialect == "postgres" and (m := _DOLLAR_TAG.match(sql, i)):
        j = sql.find(m.group(0), m.end())
        return "string", n if j < 0 else j + len(m.group(0))
    if c.isalnum() or c == "_":
        j = i
        while j < n and (sql[j].isalnum() or sql[j] in "_$"):
            j += 1
        return "word", j
    return "punct", i + 1


def _end_of_quote(sql: str, start: int, quote: str, *, backslash: bool) -> int:
    i, n = start + 1, len(sql)
    while i < n:
        c = sql[i]
        if backslash and c == "\\" and quote == "'":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote escapes itself
                i += 2
                continue
            return i + 1
        i += 1
    return n


def normalize(statement: str, dialect: str) -> str:
    """The statement without comments and with whitespace collapsed (checksum input)."""
    out: list[str] = []
    for kind, text in tokens(statement, dialect):
        if kind == "comment":
            continue
        if kind == "ws":
            if out and out[-1] != " ":
                out.append(" ")
            continue
        out.append(text)
    return "".join(out).strip().rstrip(";").strip()


def is_transaction_control(statement: str, dialect: str) -> bool:
    return bool(_TX_CONTROL.match(normalize(statement, dialect)))


def is_blank(statement: str, dialect: str) -> bool:
    return normalize(statement, dialect) == ""


def split(sql: str, dialect: str) -> list[str]:
    """Split a script into statements (without trailing ';'), dropping empty ones."""
    if dialect == "postgres":
        parts = _split_postgres(sql)
    elif dialect == "sqlite":
        parts = _split_sqlite(sql)
    else:
        parts = _split_mysql(sql)
    return [p.strip() for p in parts if not is_blank(p, dialect)]


def _split_postgres(sql: str) -> list[str]:
    import pglast  # imported lazily: it is only needed for PostgreSQL scripts

    try:
        return list(pglast.split(sql, with_parser=False))
    except pglast.Error as exc:  # scanner errors: an unterminated quote or comment
        raise MigrationFileError(f"Cannot split the SQL into statements: {exc}") from None


def _split_sqlite(sql: str) -> list[str]:
    statements, current = [], ""
    for kind, text in tokens(sql, "sqlite"):
        current += text
        if kind == "punct" and text == ";" and sqlite3.complete_statement(current):
            statements.append(current.rstrip().rstrip(";"))
            current = ""
    if current.strip():
        statements.append(current)
    return statements


def _split_mysql(sql: str) -> list[str]:
    if _DELIMITER.search(sql):
        return _split_with_delimiters(sql)
    return _split_mysql_semicolons(sql)


def _split_mysql_semicolons(sql: str) -> list[str]:
    statements, current, depth, previous = [], "", 0, ";"
    routine = False
    for kind, text in tokens(sql, "mysql"):
        current += text
        if kind in ("ws", "comment"):
            continue
        word = text.lower()
        if not routine and kind == "word" and _ROUTINE.match(normalize(current, "mysql")):
            routine = True
        if routine and kind == "word":
            depth += _depth_change(word, previous)
        if kind == "punct" and text == ";" and depth <= 0:
            statements.append(current.rstrip()[:-1])
            current, depth, routine = "", 0, False
        previous = word if kind in ("word", "punct") else previous
    if current.strip():
        statements.append(current)
    return statements


def _depth_change(word: str, previous: str) -> int:
    if word == "end":
        return -1
    if previous == "end":  # END IF / END LOOP / END CASE: the END already closed the block
        return 0
    if word in ("begin", "case"):
        return 1
    if word in _OPENERS and previous in _STATEMENT_START:
        return 1
    return 0


def _split_with_delimiters(sql: str) -> list[str]:
    statements, delimiter = [], ";"
    pieces = _DELIMITER.split(sql)
    # re.split with one group alternates: text, delimiter, text, delimiter, ...
    for index, piece in enumerate(pieces):
        if index % 2 == 1:
            delimiter = piece
            continue
        if delimiter == ";":
            statements.extend(_split_mysql_semicolons(piece))
        else:
            statements.extend(_split_on(piece, delimiter))
    return statements


def _split_on(sql: str, delimiter: str) -> list[str]:
    """Split where `delimiter` (e.g. // or $$) appears outside quotes and comments."""
    statements, current, code = [], "", ""
    for kind, text in tokens(sql, "mysql"):
        current += text
        code = "" if kind in ("string", "comment") else code + text
        if code.endswith(delimiter):
            statements.append(current[: -len(delimiter)])
            current, code = "", ""
    if current.strip():
        statements.append(current)
    return statements
