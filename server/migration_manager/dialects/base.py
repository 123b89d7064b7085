"""The one interface every database engine implements.

Callers ask capabilities (`engine.caps.transactional_ddl`), never the dialect's name.
Dialect-specific SQL lives in the engine modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..urls import DatabaseURL


@dataclass(frozen=True)
class Capabilities:
    transactional_ddl: bool  # DDL and the history row can commit together
    lock_kind: str  # human words for the migration lock ("advisory lock", "GET_LOCK", "lock file")
    client_tool: str | None = None  # psql / mariadb, for messages
    aggregate_filter: bool = False  # COUNT(*) FILTER (WHERE c): cheaper than COUNT(CASE WHEN c THEN 1 END)
    distinct_check_first: bool = False  # duplicates: COUNT(DISTINCT key) before the GROUP BY (cheaper when none)
    sorted_grouping: str | None = None  # SELECT modifier: group many keys by sorting (MySQL SQL_BIG_RESULT)
    pipelined: bool = False  # run_transaction sends a transaction's statements together (PostgreSQL pipeline mode)
    server_parser: bool = False  # the syntax check parses with the server's own parser: never wrong about an error
    file_database: bool = False  # the database is a local file: a missing one reads as empty
    primary_key_not_null: bool = True  # a PRIMARY KEY column is NOT NULL without saying so (not SQLite's rowid tables)
    foreign_keys_by_name: bool = False  # a foreign key names its table and is checked on write, not at DDL time
    schema_is_database: bool = False  # a qualified name (or CREATE SCHEMA) may reach another database of the server
    concurrent_index: bool = False  # CREATE INDEX CONCURRENTLY builds an index while writes go on
    not_valid_constraints: bool = False  # ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT without blocking
    lock_timeout_sql: str | None = None  # a migration's own 5 s lock timeout, where a DDL can queue behind a lock


# What each database can do, known without connecting (the analysis works from a dialect name alone).
CAPABILITIES = {
    "postgres": Capabilities(
        transactional_ddl=True,
        lock_kind="advisory lock",
        client_tool="psql",
        aggregate_filter=True,
        distinct_check_first=True,
        pipelined=True,
        server_parser=True,
        concurrent_index=True,
        not_valid_constraints=True,
        lock_timeout_sql="SET lock_timeout = '5s';",
    ),
    "mysql": Capabilities(
        transactional_ddl=False,
        lock_kind="GET_LOCK",
        client_tool="mariadb",
        sorted_grouping="SQL_BIG_RESULT",
        schema_is_database=True,
        lock_timeout_sql="SET SESSION lock_wait_timeout = 5;",
    ),
    "sqlite": Capabilities(
        transactional_ddl=True,
        lock_kind="lock file",
        client_tool="sqlite3",
        server_parser=True,
        file_database=True,
        primary_key_not_null=False,
        foreign_keys_by_name=True,
    ),
}


def capabilities(dialect: str) -> Capabilities:
    """The capabilities of the database behind `dialect`: sqlglot's name (URL kinds map to it in urls.py), or its
    sqlglot Dialect, which hashes and compares as its name."""
    return CAPABILITIES[dialect]


@dataclass(frozen=True)
class TableStats:
    table: str
    rows: int  # estimate from catalog statistics (exact for SQLite)
    bytes: int


class BatchFailed(Exception):
    """Statement `index` (1-based) of a batch failed with `cause`; none after it ran."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.index, self.cause = index, cause


@runtime_checkable
class Engine(Protocol):
    dialect: str  # sqlglot dialect: "sqlite" | "postgres" | "mysql"
    caps: Capabilities
    url: DatabaseURL
    param: str  # placeholder for query parameters: "?" or "%s"

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run one statement; return the affected row count (-1 when unknown)."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run a query and return all rows."""

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN ... COMMIT, or ROLLBACK when the block raises."""

    def run_transaction(self, statements: Sequence[str], record: Callable[[], None]) -> None:
        """Where caps.pipelined: BEGIN and the statements in one round trip, then `record()`'s writes and COMMIT in
        one more. Raises BatchFailed naming the first statement that failed (then nothing is committed)."""

    def acquire_lock(self, name: str, timeout_s: float) -> None:
        """Take the migration lock (session-level, dies with the process). Raises LockTimeout."""

    def release_lock(self, name: str) -> None: ...

    def lock_holder(self, name: str) -> str | None:
        """Who holds the migration lock now (session id and what it runs), or None when it is free."""

    def lock_blockers(self, tables: list[str]) -> list[str]:
        """Other sessions holding a lock on these tables, described like lock_holder (user, application,
        transaction age, query); where the server cannot tell per table, every other open transaction."""

    def is_connected(self) -> bool:
        """False when the server went away or ended our session (a failed statement alone is not that)."""

    def server_version(self) -> str: ...

    def needs_autocommit(self, statement: str) -> bool:
        """True for statements that cannot run inside a transaction block (CREATE INDEX CONCURRENTLY...)."""

    def invalid_indexes(self) -> set[str]:
        """Indexes the server keeps but does not use (PostgreSQL: a failed CREATE INDEX CONCURRENTLY's)."""

    def index_named_by(self, statement: str) -> str | None:
        """The index a statement that runs outside a transaction creates, as invalid_indexes() names it."""

    def drop_invalid_index_sql(self, index: str) -> str:
        """The statement that removes such an index without blocking writes."""

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """True when exc means "gave up waiting for a table lock" (PostgreSQL 55P03, MySQL 1205)."""

    def set_session_timeouts(self, lock_timeout_ms: int | None, statement_timeout_ms: int | None) -> None: ...

    def history_ddl(self, table: str, log_table: str) -> list[str]:
        """CREATE TABLE IF NOT EXISTS statements for the history and event-log tables."""

    def table_exists(self, table: str) -> bool: ...

    def tables(self) -> list[str]: ...

    def table_stats(self, table: str) -> TableStats: ...

    def probe_query(self, sql: str, timeout_ms: int) -> list[tuple] | None:
        """A read-only analysis query bounded in time: its rows, or None when it ran out of time."""

    def sample_clause(self, percent: float) -> str | None:
        """FROM-clause suffix that reads about `percent`% of a table's pages, or None (no sampling)."""

    def sqlalchemy_url(self) -> str:
        """URL for SQLAlchemy's inspector (internal use only: contains the password)."""

    def close(self) -> None: ...
