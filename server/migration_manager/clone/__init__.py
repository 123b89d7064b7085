"""Scratch copies of a database, and the checks `db-migrate test` runs on them.

One module per database (dialects/<db>/clone.py), chosen by the URL's kind:
* `make_copy(url)` clones the database beside the original and returns a `ScratchCopy`
  whose `drop()` removes it again (`schema_only=True`: the tables, views, triggers and routines
  without any row, for replaying statements: service/server_check.py);
* `fingerprint(engine, table, columns)` is an order-independent checksum of a table's rows
  (columns in the given order, so a column moved by DROP + ADD does not count as a change);
* `constraint_problems(engine)` proves the constraints hold on the copy (rows that violate a
  foreign key, constraints left NOT VALID that fail to validate, a damaged file).

A server-side copy (PostgreSQL, MariaDB) is guarded: the run that makes it first takes a lock named after
it (`guard_name`) on an admin session of its own and holds it until the copy is dropped. The server
releases it when that process dies, so a copy whose lock is free was left by a killed run
(`orphaned_copies`), and a copy of a `test` still running is never taken for one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from urllib.parse import quote, urlsplit, urlunsplit

from ..dialects import dialect_part
from ..dialects.base import Engine
from ..errors import LockTimeout
from ..urls import DatabaseURL, parse_url

MAX_NAME = 63  # PostgreSQL's identifier limit (MySQL allows 64)
SUFFIX_LENGTH = len("_mmtest_") + 8


@dataclass
class ScratchCopy:
    url: str = field(repr=False)  # may contain the password: internal use only
    name: str  # database name or file path, for the report
    method: str  # how it was made, in the user's words
    drop: Callable[[], None] = field(repr=False)


def copy_name(database: str) -> str:
    """`<database>_mmtest_<random>`: recognisable, unique, within every server's identifier limit."""
    return database[: MAX_NAME - SUFFIX_LENGTH] + f"_mmtest_{secrets.token_hex(4)}"


def is_copy_of(name: str, database: str) -> bool:
    return re.fullmatch(re.escape(database[: MAX_NAME - SUFFIX_LENGTH]) + r"_mmtest_[0-9a-f]{8}", name) is not None


def guard_name(copy: str) -> str:
    return f"mmtest:{copy}"


def with_database(url: DatabaseURL, database: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url.raw)._replace(path="/" + quote(database)))


def dialect_module(url: str) -> ModuleType:
    return dialect_part(parse_url(url).kind, "clone")


def make_copy(url: str, *, schema_only: bool = False) -> ScratchCopy:
    """Clone the database at `url` on the same server (without rows: schema_only). Raises CopyFailed
    (nothing left behind)."""
    module, source = dialect_module(url), parse_url(url)
    if not hasattr(module, "admin_session"):  # SQLite: a temporary folder of this process
        return module.make_copy(source, schema_only=schema_only)
    name = copy_name(source.database)
    guard = module.admin_session(source)
    try:
        guard.acquire_lock(guard_name(name), 0)  # before the copy exists: it is never seen unguarded
        copy = module.make_copy(source, name, schema_only=schema_only)
    except BaseException:
        guard.close()
        raise
    drop = copy.drop

    def drop_then_unguard() -> None:
        try:
            drop()
        finally:
            guard.close()  # ending the session releases the guard

    copy.drop = drop_then_unguard
    return copy


def orphaned_copies(url: str, *, drop: bool = False) -> list[str]:
    """Copies of this database left by a `db-migrate test` whose process is gone (their guard is free),
    dropped too with drop=True. A running test's copy is guarded: never listed. SQLite: none (its copies
    are temporary folders)."""
    module, source = dialect_module(url), parse_url(url)
    if not hasattr(module, "admin_session"):
        return []
    admin = module.admin_session(source)
    found = []
    try:
        for name in module.database_names(admin):
            if not is_copy_of(name, source.database) or not _take_guard(admin, name):
                continue
            try:
                if drop:
                    module.drop(source, name)
            finally:
                admin.release_lock(guard_name(name))
            found.append(name)
    finally:
        admin.close()
    return sorted(found)


def _take_guard(admin: Engine, name: str) -> bool:
    try:
        admin.acquire_lock(guard_name(name), 0)
    except LockTimeout:
        return False  # its test is running
    return True


def fingerprint(engine: Engine, table: str, columns: list[str]) -> str:
    return dialect_part(engine.dialect, "clone").fingerprint(engine, table, columns)


def constraint_problems(engine: Engine) -> list[str]:
    return dialect_part(engine.dialect, "clone").constraint_problems(engine)


__all__ = [
    "ScratchCopy",
    "constraint_problems",
    "copy_name",
    "dialect_module",
    "fingerprint",
    "make_copy",
    "orphaned_copies",
    "with_database",
]
