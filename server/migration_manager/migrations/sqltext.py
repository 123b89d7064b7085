"""Splitting SQL scripts into statements, and normalizing statements for checksums.

PostgreSQL scripts are split by pglast (PostgreSQL's own parser, else its scanner: exact for $$ bodies,
E'' strings, etc.); text it cannot place is kept as statements (the syntax check names them).
SQLite scripts are split where `sqlite3.complete_statement` says a statement ends (exact for
CREATE TRIGGER ... BEGIN ... END). MySQL/MariaDB scripts are split by the small lexer below,
which knows quotes, comments, DELIMITER lines and BEGIN ... END compound bodies.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from functools import lru_cache

from ..errors import MigrationFileError

# BEGIN/COMMIT written in a file: the runner starts and ends the transaction itself, so they are left out.
_TX_CONTROL = re.compile(r"^(begin|start\s+transaction|commit|end)(\s+(work|transaction))?(\s*;)?$", re.IGNORECASE)
# Transaction control the runner cannot do as written (refused_transaction_control says why).
_TX_ROLLBACK = re.compile(r"^(rollback|abort)\b(?!(\s+(work|transaction))?\s+to\b)", re.IGNORECASE)
_TX_SAVEPOINT = re.compile(r"^(savepoint|release|rollback(\s+(work|transaction))?\s+to)\b", re.IGNORECASE)
_TX_OPTIONS = re.compile(
    r"^((start\s+transaction|begin(\s+(work|transaction))?)\s+(isolation|read|deferrable|"
    r"not\s+deferrable|with)|(commit|end)(\s+(work|transaction))?\s+and)\b",
    re.IGNORECASE,
)
# SQLite's BEGIN DEFERRED / IMMEDIATE open the transaction the runner opens anyway (BEGIN IMMEDIATE): left out
# like BEGIN. EXCLUSIVE also keeps readers out, which the runner's transaction does not: refused.
_TX_SQLITE_BEGIN = re.compile(r"^begin\s+(deferred|immediate)(\s+transaction)?(\s*;)?$", re.IGNORECASE)
_TX_SQLITE_REFUSED = [
    (
        re.compile(r"^begin\s+exclusive\b", re.IGNORECASE),
        "takes SQLite's EXCLUSIVE lock (no other connection may even read), but the runner opens its own "
        "transaction, BEGIN IMMEDIATE (others may still read): remove it, and stop the readers first if "
        "they must not see the change half-way",
    )
]
# MariaDB/MySQL session statements that take the commits away from the runner, which records each statement's
# progress in the history table after it commits.
_TX_MYSQL_REFUSED = [
    (
        re.compile(r"^set\b.*?[\s,.@]autocommit\s*:?=", re.IGNORECASE),
        "changes the session's autocommit, but the runner owns the commits (each statement commits with its progress "
        "record; with autocommit off nothing would be): remove it",
    ),
    (
        re.compile(r"^(lock|unlock)\s+tables?\b", re.IGNORECASE),
        "locks tables for the session, but the runner writes the history table between statements, which the server "
        "refuses under LOCK TABLES (and LOCK TABLES commits what is open): remove the LOCK TABLES / UNLOCK TABLES lines "
        "(a dump's, around its INSERTs); the migration lock keeps other runs out",
    ),
    (
        re.compile(r"^xa\b", re.IGNORECASE),
        "is a distributed (XA) transaction, which the runner cannot take part in: it commits each statement itself. "
        "Remove the XA statements",
    ),
]
_DELIMITER = re.compile(r"^\s*delimiter\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_ROUTINE = re.compile(
    r"^create\s+(or\s+replace\s+)?(definer\s*=\s*\S+\s+)?(procedure|function|trigger|event)\b", re.IGNORECASE
)
_OPENERS = {"begin", "case", "if", "loop", "while", "repeat"}
_STATEMENT_START = {";", "begin", "then", "else", "do", ":", "loop", "repeat"}


def _token_pattern(dialect: str) -> re.Pattern[str]:
    """One regular expression per dialect for the lexer: the scan runs in C, not a Python loop per
    character (status reads and checksums every file). Kinds, tried in this order: whitespace;
    comments (-- to end of line, /* to */ or the end, # on MySQL); quoted strings, identifiers and
    backticks (a doubled quote escapes itself; on MySQL a backslash escapes in '...'; unterminated:
    to the end); PostgreSQL $tag$ ... $tag$ bodies; words (letters, digits, _, and $ after the first);
    any other single character."""
    hash_comment = r"|\#[^\n]*" if dialect == "mysql" else ""
    single = r"'(?:\\[\s\S]?|''|[^'\\])*'?" if dialect == "mysql" else r"'(?:''|[^'])*'?"
    dollar = r"|(?P<tag>\$[A-Za-z_]*\$)[\s\S]*?(?:(?P=tag)|\Z)" if dialect == "postgres" else ""
    return re.compile(
        r"(?P<ws>\s+)"
        rf"|(?P<comment>--[^\n]*|/\*(?:[\s\S]*?\*/|[\s\S]*){hash_comment})"
        rf"|(?P<string>{single}|\"(?:\"\"|[^\"])*\"?|`(?:``|[^`])*`?{dollar})"
        r"|(?P<word>\w[\w$]*)"
        r"|(?P<punct>[\s\S])"
    )


_TOKEN = {dialect: _token_pattern(dialect) for dialect in ("postgres", "mysql", "sqlite")}
# A character that may start a string or a comment (normalize's fast path looks for none).
_QUOTES_OR_COMMENTS = {
    "postgres": re.compile(r"['\"`$]|--|/\*"),
    "mysql": re.compile(r"['\"`#]|--|/\*"),
    "sqlite": re.compile(r"['\"`]|--|/\*"),
}
# First words of the statements transaction control is made of (a statement starting otherwise is none).
_TX_WORDS = {
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "abort",
    "savepoint",
    "release",
    "set",
    "lock",
    "unlock",
    "xa",
}
_FIRST_WORD = re.compile(r"\s*(\w*)")
# A character that may open a PostgreSQL string, identifier, $$ body, comment or parenthesis (_split_like_psql).
_OPENS_SOMETHING = re.compile(r"['\"`$(/-]")
# One MySQL statement up to its ';' when nothing in it is left open: the lexer's strings, comments and backticks,
# any other character but ';'. Possessive (*+, ++): each string ends where the lexer ends it, and no ';' inside a
# string or a comment can end the statement on a second try when the first finds none.
_PLAIN_STATEMENT = re.compile(
    r"""(?:[^;'"`#/-]++|'(?:\\[\s\S]?|''|[^'\\])*+'|"(?:""|[^"])*+"|`(?:``|[^`])*+`"""
    r"""|--[^\n]*+|/\*[\s\S]*?\*/|\#[^\n]*+|-(?!-)|/(?!\*))*+;"""
)
# The word that makes a CREATE a routine with a BEGIN ... END body (_ROUTINE then reads the whole start).
_ROUTINE_KINDS = ("procedure", "function", "trigger", "event")


def tokens(sql: str, dialect: str) -> Iterator[tuple[str, str]]:
    """Yield (kind, text) with kind in ws | comment | string | word | punct."""
    for match in _TOKEN.get(dialect, _TOKEN["sqlite"]).finditer(sql):
        kind = match.lastgroup
        yield ("string" if kind == "tag" else kind), match.group()


@lru_cache(maxsize=65536)  # every statement of a large plan (read in order by each pass)
def normalize(statement: str, dialect: str) -> str:
    """The statement without comments and with whitespace collapsed (checksum input). Cached:
    reading a file asks it of each statement up to three times (blank? BEGIN/COMMIT? checksum)."""
    known = dialect if dialect in _TOKEN else "sqlite"
    if _single_spaced(statement, dialect) or not _QUOTES_OR_COMMENTS[known].search(statement):
        # Only words, punctuation and whitespace: the tokens below would just collapse whitespace.
        return " ".join(statement.split()).rstrip(";").strip()
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


def _single_spaced(statement: str, dialect: str) -> bool:
    """No comment, and no whitespace but single spaces (a one-line INSERT of a bulk load): normalize has
    nothing to remove or collapse, strings or not. Substring tests only: this runs for every statement
    read. (isprintable is False for every whitespace character but the space.)"""
    return (
        "--" not in statement
        and "/*" not in statement
        and "  " not in statement
        and statement.isprintable()
        and (dialect != "mysql" or "#" not in statement)
    )


def may_be_transaction_control(statement: str) -> bool:
    """False when the first word says the statement is no transaction control (most are not: one look)."""
    first = _FIRST_WORD.match(statement)[1].lower()
    return first in _TX_WORDS or not first  # no word first (a comment?): only normalize can tell


def is_transaction_control(statement: str, dialect: str) -> bool:
    """BEGIN/COMMIT the runner does itself: left out of the script."""
    if not may_be_transaction_control(statement):
        return False
    text = normalize(statement, dialect)
    return bool(_TX_CONTROL.match(text) or dialect == "sqlite" and _TX_SQLITE_BEGIN.match(text))


def refused_transaction_control(statement: str, dialect: str, *, one_transaction: bool) -> str | None:
    """Why the runner cannot do what this transaction-control statement asks (None: it can, or it is none).
    `one_transaction`: the script runs in one transaction of the runner, which savepoints can live in."""
    if not may_be_transaction_control(statement):
        return None
    text = normalize(statement, dialect)
    if _TX_ROLLBACK.match(text):
        return (
            "undoes the transaction, but the runner owns the transaction: it would not undo the statements "
            "before it, and they would be committed"
        )
    if _TX_SAVEPOINT.match(text) and not one_transaction:
        return (
            "needs a transaction around it, and this script runs statement by statement (each one commits on "
            "its own: MariaDB/MySQL, or a no-transaction migration)"
        )
    if _TX_OPTIONS.match(text):
        return "asks for transaction options, but the runner starts and ends the transaction itself, without them"
    refused = {"sqlite": _TX_SQLITE_REFUSED, "mysql": _TX_MYSQL_REFUSED}.get(dialect, [])
    return next((why for pattern, why in refused if pattern.match(text)), None)


def is_blank(statement: str, dialect: str) -> bool:
    if statement.lstrip()[:1] not in ("", "-", "/", "#", ";"):  # starts with code, not a comment: no need to read on
        return False
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
    """PostgreSQL's own parser splits exactly (a BEGIN ATOMIC body stays whole) when every statement
    parses; else its scanner splits. Either one leaves out text it cannot place (the scanner drops a
    statement without a keyword, and everything after an unbalanced parenthesis), so that text is kept
    as statements of its own: the syntax check then names it, and nothing written in a file is lost."""
    import pglast  # imported lazily: it is only needed for PostgreSQL scripts

    try:
        pieces = pglast.split(sql, with_parser=True, only_slices=True)
    except pglast.Error:
        try:
            pieces = pglast.split(sql, with_parser=False, only_slices=True)
        except pglast.Error as exc:  # scanner errors: an unterminated quote or comment
            raise MigrationFileError(f"Cannot split the SQL into statements: {exc}") from None
    statements, done = [], 0
    for piece in pieces:
        statements += _split_like_psql(sql[done : piece.start])
        statements.append(sql[piece])
        done = piece.stop
    return statements + _split_like_psql(sql[done:])


def _split_like_psql(sql: str) -> list[str]:
    """Text pglast left out, split as psql would send it: at a ';' outside parentheses."""
    if not _OPENS_SOMETHING.search(sql):
        # Usually the ";\n" between two statements pglast placed: no string, comment or parenthesis in it, so
        # every ';' ends a statement (the tokens below would say the same, ~5 us slower each; two per statement).
        return sql.split(";")
    statements, current, depth = [], "", 0
    for kind, text in tokens(sql, "postgres"):
        if kind == "punct" and text == ";" and depth == 0:
            statements.append(current)
            current = ""
            continue
        current += text
        if kind == "punct" and text in "()":
            depth = depth + 1 if text == "(" else max(depth - 1, 0)
    return statements + [current]


def _split_sqlite(sql: str) -> list[str]:
    """Every ';' is a candidate end, and SQLite itself says which ones end a statement (not those inside
    a string, a comment, a [bracketed] name or a trigger body), without a Python loop per token."""
    statements, start = [], 0
    for end in (m.end() for m in re.finditer(";", sql)):
        if sqlite3.complete_statement(sql[start:end]):
            statements.append(sql[start:end].rstrip().rstrip(";"))
            start = end
    if sql[start:].strip():
        statements.append(sql[start:])
    return statements


def _split_mysql(sql: str) -> list[str]:
    if _DELIMITER.search(sql):
        return _split_with_delimiters(sql)
    return _split_mysql_semicolons(sql)


def _split_mysql_semicolons(sql: str) -> list[str]:
    statements, at = [], 0
    while at < len(sql):
        plain = _PLAIN_STATEMENT.match(sql, at)
        if plain and _FIRST_WORD.match(plain[0])[1].lower() not in ("", "create"):
            # No routine body can be in it (a statement that starts with a comment or CREATE goes to the lexer):
            # the ';' the pattern stopped at ends it, as the lexer would say (one C-level match per statement).
            statements.append(plain[0][:-1])
            at = plain.end()
            continue
        statement, at = _next_statement(sql, at)
        if statement.strip():
            statements.append(statement)
    return statements


def _next_statement(sql: str, start: int) -> tuple[str, int]:
    """The statement from `start` to its ';' (not those of a BEGIN ... END body), and where the next one starts."""
    current, depth, previous, routine = "", 0, ";", False
    for match in _TOKEN["mysql"].finditer(sql, start):
        kind, text = match.lastgroup, match.group()
        current += text
        if kind in ("ws", "comment"):
            continue
        word = text.lower()
        if not routine and kind == "word" and word.startswith(_ROUTINE_KINDS):
            routine = bool(_ROUTINE.match(normalize(current, "mysql")))
        if routine and kind == "word":
            depth += _depth_change(word, previous)
        if kind == "punct" and text == ";" and depth <= 0:
            return current[:-1], match.end()
        previous = word if kind in ("word", "punct") else previous
    return current, len(sql)


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
