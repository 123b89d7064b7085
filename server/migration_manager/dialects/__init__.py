"""One package per database (dialects/<db>/: engine, schema, stats, locks, backup, clone, archive), each with the
`Dialect` its __init__ defines, and the one registry that finds them by name.

Adding a database means adding its folder here and its name to NAMES: nothing outside dialects/ asks a
database's name."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from types import ModuleType

from ..errors import ConfigError
from ..urls import parse_url
from .base import Dialect, Engine, TableStats

# The databases with a package here, in the order lists show them. A package's parts are imported on first use,
# so a SQLite user never loads psycopg and startup stays fast.
NAMES = ("postgres", "mysql", "sqlite")
SUPPORTED = frozenset(NAMES)
# The grammar a project's files are read with when its database has no package here (open_engine refuses it).
PLAIN = "sqlite"


@cache
def get(name: str) -> Dialect:
    """The Dialect called `name`: sqlglot's name (a URL's kind maps to it), or sqlglot's Dialect, which compares as
    its name. Raises ConfigError for a database without a package here."""
    known = next((known for known in NAMES if known == name), None)
    if known is None:
        raise ConfigError(f"{name} is not supported for SQL migrations yet.")
    return import_module(f"{__name__}.{known}").DIALECT


def every() -> list[Dialect]:
    return [get(name) for name in NAMES]


def dialect_part(dialect: str, part: str) -> ModuleType:
    """The module `part` (engine, schema, stats, locks, backup, clone, archive) of `dialect`'s package."""
    return get(dialect).part(part)


def open_engine(url: str) -> Engine:
    """Connect to the database at `url`. Raises ConnectionFailed with a redacted explanation."""
    parsed = parse_url(url)
    if parsed.kind not in SUPPORTED:
        raise ConfigError(
            f"{parsed.kind} is not supported for SQL migrations yet ({parsed.redacted}).",
            next_step="Use a PostgreSQL, MySQL/MariaDB or SQLite URL.",
        )
    return get(parsed.kind).part("engine").connect(parsed)


__all__ = ["Dialect", "Engine", "TableStats", "dialect_part", "every", "get", "open_engine"]
