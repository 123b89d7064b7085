"""What every database provides: its Dialect and its Engine.

`Dialect` is what a database can do and how it names things, known without connecting; `Engine` is a session
on one. Callers ask capabilities (`engine.caps.transactional_ddl`), never the dialect's name.
Dialect-specific SQL lives in the per-database packages (dialects/<db>/) only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module
from types import ModuleType
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ..urls import DatabaseURL


class Dialect:
    """One database as the code outside dialects/ sees it: what it can do (known without connecting: the analysis
    works from a dialect's name alone), how it quotes a name, which errors mean what, and where its parts live.

    Each dialects/<db>/__init__.py subclasses it, sets what differs from these defaults and makes the one instance
    `DIALECT` that `dialects.get(name)` returns (Alembic's DefaultImpl and its per-database subclasses are the
    model). Callers ask a capability (`dialects.get(name).transactional_ddl`, `engine.caps.transactional_ddl`)
    or call a method, never compare the name."""

    name: ClassVar[str]  # sqlglot's name for the dialect: URL kinds map to it (urls.py)
    url_schemes: ClassVar[tuple[str, ...]]  # the URL schemes that name this database (the first one is its own)
    identifier_quote: ClassVar[str] = '"'  # quote() wraps a name in it and doubles it inside
    # A name the server reads back as itself when written without quotes (keywords aside: reserved_words)
    bare_name: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

    # Capabilities
    transactional_ddl: ClassVar[bool] = False  # DDL and the history row can commit together
    lock_kind: ClassVar[str]  # human words for the migration lock ("advisory lock", "GET_LOCK", "lock file")
    client_tool: ClassVar[str | None] = None  # psql / mariadb, for messages
    aggregate_filter: ClassVar[bool] = False  # COUNT(*) FILTER (WHERE c): cheaper than COUNT(CASE WHEN c THEN 1 END)
    # duplicates: COUNT(DISTINCT key) before the GROUP BY (cheaper when none)
    distinct_check_first: ClassVar[bool] = False
    sorted_grouping: ClassVar[str | None] = None  # SELECT modifier: group many keys by sorting (MySQL SQL_BIG_RESULT)
    # run_transactions sends transactions together (pipeline mode), their records timed by the server's clock
    pipelined: ClassVar[bool] = False
    server_clock: ClassVar[ServerClock | None] = None
    # run_then_record sends statements and a transaction of writes as one query (MariaDB/MySQL multi-statements)
    multi_statements: ClassVar[bool] = False
    server_parser: ClassVar[bool] = False  # the syntax check parses with the server's own parser: never wrong
    file_database: ClassVar[bool] = False  # the database is a local file: a missing one reads as empty
    primary_key_not_null: ClassVar[bool] = True  # a PRIMARY KEY column is NOT NULL without saying so
    # a foreign key names its table and is checked on write, not at DDL time
    foreign_keys_by_name: ClassVar[bool] = False
    schema_is_database: ClassVar[bool] = False  # a qualified name (or CREATE SCHEMA) may reach another database
    concurrent_index: ClassVar[bool] = False  # CREATE INDEX CONCURRENTLY builds an index while writes go on
    not_valid_constraints: ClassVar[bool] = False  # ADD CONSTRAINT ... NOT VALID, then VALIDATE without blocking
    # a migration's own 5 s lock timeout, where DDL can queue behind a lock
    lock_timeout_sql: ClassVar[str | None] = None
    # What the lock rules ask: DDL locks its own table, not the whole database (other tables' traffic goes on)
    table_level_ddl_locks: ClassVar[bool] = False
    table_lock_modes: ClassVar[bool] = False  # each DDL takes a named table lock mode (ACCESS EXCLUSIVE, SHARE, ...)
    online_ddl_algorithms: ClassVar[bool] = False  # ALTER TABLE picks ALGORITHM=INSTANT|INPLACE|COPY and LOCK=NONE|...
    implicit_column_values: ClassVar[bool] = False  # ADD COLUMN NOT NULL without DEFAULT fills rows with 0 or ''
    updatable_views: ClassVar[bool] = False  # a view over one table takes the writes the application sends it
    # The type rules
    type_change_needs_using: ClassVar[bool] = False  # ALTER ... TYPE across type families needs USING (no auto cast)
    column_types_are_affinities: ClassVar[bool] = False  # any column may hold (and reference) any value
    # Which column types a foreign key may join: of one family (integer to any number too), or only the same type
    # (strings may differ in length)
    foreign_key_types: ClassVar[Literal["family", "same"]] = "same"
    value_too_big: ClassVar[str]  # what values that do not fit a narrower column type do (a finding's words)
    # serial is a shorthand, not a type: the integer type (sqlglot's name) such a column is stored and compared as
    serial_types: ClassVar[dict[str, str]] = {}
    # The servers this dialect talks to, by the name the lock model knows them by -> their name for people.
    flavors: ClassVar[dict[str, str]]

    def server_flavor(self, version_text: str) -> tuple[str, tuple[int, ...]]:
        """Which of `flavors` a server_version() text names, and its version (major, minor, patch)."""
        return next(iter(self.flavors)), tuple(int(n) for n in re.findall(r"\d+", version_text)[:3])

    def quote(self, identifier: str) -> str:
        """`identifier` as one quoted name, never parsed as SQL: a quote inside it is doubled ("we""ird", `we``ird`)."""
        quote = self.identifier_quote
        return quote + identifier.replace(quote, quote * 2) + quote

    def as_written(self, name: str) -> str:
        """`name` as a person would write it in SQL: bare when the server reads it back as the same name, else
        quoted ("order items", `select`, "Users" on PostgreSQL, which folds bare names to lower case)."""
        if self.bare_name.match(name) and name.lower() not in self.reserved_words:
            return name
        return self.quote(name)

    @cached_property
    def reserved_words(self) -> frozenset[str]:
        """Keywords a bare name must not be, lower case (quoting one more name than needed is harmless)."""
        return frozenset()

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """True when `exc` means "gave up waiting for a table lock" (the runner retries those)."""
        return False

    def is_statement_timeout(self, exc: BaseException) -> bool:
        """True when `exc` means "the statement ran out of its time" (a bounded probe then reads as unmeasured)."""
        return False

    def part(self, name: str) -> ModuleType:
        """This database's module `name` (engine, schema, stats, locks, backup, clone, archive), imported on first
        use so a SQLite user never loads psycopg."""
        return import_module(f"{type(self).__module__}.{name}")

    def __repr__(self) -> str:
        return f"<Dialect {self.name}>"


@dataclass(frozen=True)
class TableStats:
    table: str
    rows: int  # estimate from catalog statistics (exact for SQLite)
    bytes: int


class BatchFailed(Exception):
    """Transaction `transaction` (0-based) of a batch failed with `cause` at its statement `index` (1-based; 0: in
    its record's writes or its COMMIT): it is rolled back, every transaction before it committed, none after it ran."""

    def __init__(self, index: int, cause: BaseException, transaction: int = 0) -> None:
        super().__init__(str(cause))
        self.index, self.cause, self.transaction = index, cause, transaction


@dataclass(frozen=True)
class Transaction:
    """One transaction of run_transactions: its statements, then `record()`'s writes (the history row and event),
    then COMMIT."""

    statements: Sequence[str]
    record: Callable[[], None]


@dataclass(frozen=True)
class ServerClock:
    """SQL for the server's own clock, which a record sent ahead of its statements writes (run_transactions: the
    client cannot time a transaction it has not seen run): when the transaction started, and how long it has run."""

    started: str
    elapsed_ms: str
    now: str


@runtime_checkable
class Engine(Protocol):
    dialect: str  # the Dialect's name (sqlglot's): compare nothing with it, ask `caps`
    caps: Dialect  # its Dialect: capabilities, quote(), error classification
    url: DatabaseURL
    param: str  # placeholder for query parameters: "?" or "%s"

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run one statement; return the affected row count (-1 when unknown)."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run a query and return all rows."""

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN ... COMMIT, or ROLLBACK when the block raises."""

    def run_transactions(
        self, transactions: Sequence[Transaction], committed: Callable[[int], None] | None = None
    ) -> None:
        """Where caps.pipelined: every transaction (BEGIN, its statements, its record's writes, COMMIT) sent without
        waiting for the one before; the server stops at the first error and runs nothing after it. `committed(n)`:
        the first n have committed (called as their results come back). Raises BatchFailed naming the transaction
        and the statement that failed."""

    def run_transaction(self, statements: Sequence[str], record: Callable[[], None]) -> None:
        """Where caps.pipelined: BEGIN and the statements in one round trip, then `record()`'s writes and COMMIT in
        one more, sent once every statement has succeeded (so a session lost before that never committed). Raises
        BatchFailed naming the first statement that failed (then nothing is committed)."""

    def run_then_record(self, statements: Sequence[str], record: Callable[[], None]) -> None:
        """Where caps.multi_statements: the statements, then `record()`'s writes in one transaction, all in one round
        trip; the server stops at the first error. Raises BatchFailed naming the statement that failed (every one
        before it ran: on MariaDB/MySQL each DDL statement committed on its own), or the record's own error."""

    def record_together(self, record: Callable[[], None]) -> None:
        """`record()`'s writes in one transaction; where the server allows it (MariaDB/MySQL), sent with BEGIN and
        COMMIT in one round trip. record() only writes: inside it, execute() returns no row count."""

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
        """True when exc means "gave up waiting for a table lock": its Dialect's is_lock_timeout."""

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
