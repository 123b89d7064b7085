"""Engines: one module per database behind engines.base.Engine; chosen by URL scheme."""

from __future__ import annotations

from importlib import import_module

from ..errors import ConfigError
from ..urls import parse_url
from .base import Capabilities, Engine, TableStats

# Modules are imported lazily so a SQLite user never loads psycopg, and startup stays fast.
MODULES = {"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}


def open_engine(url: str) -> Engine:
    """Connect to the database at `url`. Raises ConnectionFailed with a redacted explanation."""
    parsed = parse_url(url)
    module = MODULES.get(parsed.kind)
    if module is None:
        raise ConfigError(
            f"{parsed.kind} is not supported for SQL migrations yet ({parsed.redacted}).",
            next_step="Use a PostgreSQL, MySQL/MariaDB or SQLite URL.",
        )
    return import_module(f".{module}", __name__).connect(parsed)


__all__ = ["Capabilities", "Engine", "TableStats", "open_engine"]
