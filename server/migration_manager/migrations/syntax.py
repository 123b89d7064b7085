"""Does each statement parse for its dialect? pglast (PostgreSQL's own parser) for PostgreSQL;
sqlglot for MySQL/MariaDB and SQLite, except compound routine bodies sqlglot cannot read
(CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT), which the server checks when they run."""

from __future__ import annotations

import re

from .model import Migration

_ROUTINE = re.compile(r"^\s*create\s+(or\s+replace\s+)?(definer\s*=\s*\S+\s+)?(procedure|function|trigger|event)\b",
                      re.IGNORECASE)


def syntax_errors(migration: Migration, dialect: str) -> list[str]:
    scripts = [("UP", migration.up)] + ([("DOWN", migration.down)] if migration.down else [])
    errors = []
    for label, script in scripts:
        for index, statement in enumerate(script.statements, start=1):
            problem = statement_error(statement, dialect)
            if problem:
                errors.append(f"{label} statement {index}: {problem}")
    return errors


def statement_error(statement: str, dialect: str) -> str | None:
    if dialect == "postgres":
        import pglast

        try:
            pglast.parse_sql(statement)
        except pglast.parser.ParseError as exc:
            return str(exc)
        return None
    if _ROUTINE.match(_strip_leading_comments(statement)):
        return None
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        sqlglot.parse(statement, read=dialect)
    except (ParseError, TokenError) as exc:
        return " ".join(str(exc).split())[:300]
    return None


def _strip_leading_comments(statement: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", statement, flags=re.DOTALL)
