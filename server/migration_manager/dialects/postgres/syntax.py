"""Does a statement parse on PostgreSQL? pglast, PostgreSQL's own parser, says."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def statement_checker() -> Iterator[Callable[[str], tuple[str, int] | None]]:
    """A function giving (message, line offset inside the statement) when a statement does not parse."""
    yield statement_error


def statement_error(statement: str) -> tuple[str, int] | None:
    from pglast import parser

    try:
        parser.parse_sql_json(statement)  # the same parser as parse_sql, without building Python objects (~20x faster)
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        return str(exc.args[0]), statement.count("\n", 0, location)
    return None
