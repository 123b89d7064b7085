"""One package per database (dialects/<db>/: engine, schema, stats, locks, backup, clone, archive) behind
dialects.base.Engine, and the one registry that finds a database's part by the dialect's name.

Adding a database means adding its folder here: nothing outside dialects/ asks a database's name."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from ..errors import ConfigError
from ..urls import parse_url
from .base import Capabilities, Engine, TableStats

# The databases with a package here. Parts are imported lazily so a SQLite user never loads psycopg, and
# startup stays fast.
SUPPORTED = frozenset({"sqlite", "postgres", "mysql"})


def dialect_part(dialect: str, part: str) -> ModuleType:
    """The module `part` (engine, schema, stats, locks, backup, clone, archive) of `dialect`'s package."""
    if dialect not in SUPPORTED:
        raise ConfigError(f"{dialect} is not supported for SQL migrations yet.")
    return import_module(f"{__name__}.{dialect}.{part}")


def open_engine(url: str) -> Engine:
    """Connect to the database at `url`. Raises ConnectionFailed with a redacted explanation."""
    parsed = parse_url(url)
    if parsed.kind not in SUPPORTED:
        raise ConfigError(
            f"{parsed.kind} is not supported for SQL migrations yet ({parsed.redacted}).",
            next_step="Use a PostgreSQL, MySQL/MariaDB or SQLite URL.",
        )
    return dialect_part(parsed.kind, "engine").connect(parsed)


__all__ = ["Capabilities", "Engine", "TableStats", "dialect_part", "open_engine"]
