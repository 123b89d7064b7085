"""SQLite, all in one place: engine, schema, stats, locks, backup, clone, archive, and its Dialect."""

from __future__ import annotations

from functools import cached_property

from .. import get
from ..base import Dialect


class SQLite(Dialect):
    name = "sqlite"
    url_schemes = ("sqlite",)
    flavors = {"sqlite": "SQLite"}
    transactional_ddl = True
    lock_kind = "lock file"
    client_tool = "sqlite3"
    server_parser = True
    file_database = True
    primary_key_not_null = False  # rowid tables: a PRIMARY KEY column may hold NULL unless declared NOT NULL
    foreign_keys_by_name = True
    column_types_are_affinities = True
    # SQLite has no ALTER COLUMN ... TYPE (it refuses the statement); a rebuilt table keeps every value as it was.
    value_too_big = "make it fail in strict SQL mode, and are cut or clamped to fit without it"

    @cached_property
    def reserved_words(self) -> frozenset[str]:
        # SQLite accepts most keywords as names, and which ones changes with its version: quote what the other two
        # servers reserve.
        return get("postgres").reserved_words | get("mysql").reserved_words

    def is_lock_timeout(self, exc: BaseException) -> bool:
        import sqlite3

        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def is_statement_timeout(self, exc: BaseException) -> bool:
        import sqlite3

        return isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc)  # by the progress handler


DIALECT = SQLite()
