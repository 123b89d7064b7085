"""Scratch copies of a database, and the checks `db-migrate test` runs on them.

One module per database, chosen by the URL's kind (like engines/):
* `make_copy(url)` clones the database beside the original and returns a `ScratchCopy`
  whose `drop()` removes it again;
* `fingerprint(engine, table, columns)` is an order-independent checksum of a table's rows
  (columns in the given order, so a column moved by DROP + ADD does not count as a change);
* `constraint_problems(engine)` proves the constraints hold on the copy (rows that violate a
  foreign key, constraints left NOT VALID that fail to validate, a damaged file).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from urllib.parse import quote, urlsplit, urlunsplit

from ..engines.base import Engine
from ..urls import DatabaseURL, parse_url

MODULES = {"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}
MAX_NAME = 63  # PostgreSQL's identifier limit (MySQL allows 64)


@dataclass
class ScratchCopy:
    url: str = field(repr=False)  # may contain the password: internal use only
    name: str  # database name or file path, for the report
    method: str  # how it was made, in the user's words
    drop: Callable[[], None] = field(repr=False)


def copy_name(database: str) -> str:
    """`<database>_mmtest_<random>`: recognisable, unique, within every server's identifier limit."""
    suffix = f"_mmtest_{secrets.token_hex(4)}"
    return database[: MAX_NAME - len(suffix)] + suffix


def with_database(url: DatabaseURL, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url.raw)._replace(path="/" + quote(database)))


def dialect_module(url: str) -> ModuleType:
    return import_module(f".{MODULES[parse_url(url).kind]}", __name__)


def make_copy(url: str) -> ScratchCopy:
    """Clone the database at `url` on the same server. Raises CopyFailed (nothing left behind)."""
    return dialect_module(url).make_copy(parse_url(url))


def fingerprint(engine: Engine, table: str, columns: list[str]) -> str:
    return import_module(f".{MODULES[engine.dialect]}", __name__).fingerprint(engine, table, columns)


def constraint_problems(engine: Engine) -> list[str]:
    return import_module(f".{MODULES[engine.dialect]}", __name__).constraint_problems(engine)


__all__ = ["ScratchCopy", "constraint_problems", "copy_name", "dialect_module", "fingerprint", "make_copy", "with_database"]
