"""PostgreSQL via psycopg 3. DDL is transactional; the migration lock is a session advisory lock."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ...urls import DatabaseURL
from ..base import BatchFailed, TableStats, Transaction
from ..common import EngineDefaults, connection_failed, lock_key, poll_lock
from . import DIALECT

# Statements PostgreSQL refuses inside a transaction block ("cannot run inside a transaction block").
_AUTOCOMMIT_ONLY = re.compile(
    r"^\s*(create\s+(unique\s+)?index\s+concurrently|drop\s+index\s+concurrently|reindex\b.*\bconcurrently"
    r"|vacuum\b|create\s+database|drop\s+database|alter\s+system|create\s+tablespace|drop\s+tablespace"
    r"|alter\s+table\b.*\bdetach\s+partition\b.*\bconcurrently)",
    re.IGNORECASE | re.DOTALL,
)
# The index a CREATE INDEX CONCURRENTLY names (unquoted names fold to lower case, as the server does).
_CONCURRENT_INDEX_NAME = re.compile(
    r"^\s*create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?(?!on\b)(?P<name>\"[^\"]+\"|\w+)",
    re.IGNORECASE,
)
# Leaving a pipeline whose session has ended logs a warning ("error ignored terminating ..."): the error itself is
# what the run reports, so the warning would only be noise on stderr.
logging.getLogger("psycopg").setLevel(logging.ERROR)
HINT = "Check host, port, database name, user and password (PGPASSWORD or the URL); is the server running?"


def _short(sql: str | None, limit: int = 100) -> str:
    flat = " ".join((sql or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _batch_failure(sent: list[list], transactions: Sequence[Transaction], exc: BaseException) -> BatchFailed | None:
    """Where a batch stopped: the first transaction whose COMMIT did not come back, at the first of its statements
    with no result (None: every transaction committed)."""
    for number, (cursors, commit) in enumerate(sent):
        if commit is None or commit.pgresult is None:
            return BatchFailed(_failed_statement(cursors, len(transactions[number].statements)) or 0, exc, number)
    return None


def _failed_statement(cursors: list, count: int) -> int | None:
    """The statement (1-based) of `count` sent whose result never came back, the first; None: all of them ran."""
    failed = next((i for i, c in enumerate(cursors, start=1) if c.pgresult is None), None)
    if failed is None and len(cursors) < count:
        # Read while the statement was being sent (its cursor never came back): a fast server's error for it,
        # every earlier statement having succeeded.
        failed = len(cursors) + 1
    return failed


def connect(url: DatabaseURL) -> PostgresEngine:
    return PostgresEngine(url)


class PostgresEngine(EngineDefaults):
    dialect = "postgres"
    caps = DIALECT
    param = "%s"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.conn = self._connect()
        self._lock_key: int | None = None
        self._notice_lost_client()

    def _connect(self):
        import psycopg

        kwargs = {
            "host": self.url.host or "localhost",
            "port": self.url.port or 5432,
            "dbname": self.url.database,
            "user": self.url.user,
            "password": self.url.password,
            "connect_timeout": 10,
            "application_name": "migration-manager",
            **self.url.query,
        }
        try:
            return psycopg.connect(autocommit=True, **{k: v for k, v in kwargs.items() if v is not None})
        except psycopg.Error as exc:
            raise connection_failed(self.url, exc, HINT) from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        cur = self.conn.execute(sql, params)  # params=None: '%' in SQL stays literal
        return cur.rowcount

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def run_transactions(
        self, transactions: Sequence[Transaction], committed: Callable[[int], None] | None = None
    ) -> None:
        # Pipeline mode with one Sync at the end: each transaction (BEGIN, its statements, its record's writes,
        # COMMIT) is sent without waiting for the one before, so the server runs one while the client sends the
        # next. At the first error the server skips everything up to the Sync: no later transaction starts. A flush
        # request after each statement makes the server send its result as soon as it has run: the results come
        # back while the rest is being sent (`committed` hears of them then), and a session that ends mid-batch
        # still names the statement it was running.
        import psycopg

        sent: list[list] = []  # per transaction: [its statements' cursors, its COMMIT's cursor]
        told = 0

        def tell() -> None:
            nonlocal told
            done = told
            while done < len(sent) and sent[done][1] is not None and sent[done][1].pgresult is not None:
                done += 1
            if committed is not None and done > told:
                committed(done)
            told = done

        try:
            with self.conn.pipeline() as pipeline:
                try:
                    for transaction in transactions:
                        cursors: list = []
                        sent.append([cursors, None])
                        self.conn.execute("BEGIN")
                        for sql in transaction.statements:
                            cursors.append(self.conn.execute(sql))
                            self.conn.pgconn.send_flush_request()
                        transaction.record()
                        sent[-1][1] = self.conn.execute("COMMIT")
                        self.conn.pgconn.send_flush_request()
                        tell()
                    pipeline.sync()
                except psycopg.Error as exc:
                    failure = _batch_failure(sent, transactions, exc)
                    tell()
                    if failure is None:  # every COMMIT came back: all of it is committed, whatever came after
                        return
                    raise failure from exc
            tell()
        except BaseException:
            self._rollback_open_transaction()
            raise

    def run_transaction(self, statements: Sequence[str], record: Callable[[], None]) -> None:
        # Pipeline mode: BEGIN and every statement go in one round trip, each still its own query (the server stops
        # at the first error and skips the rest; each cursor says whether its statement ran). A flush request after
        # each makes the server send its result as soon as it has run, so a session that ends mid-batch still
        # names the statement it was running. The record's writes and COMMIT go in a second round trip, sent only
        # once every statement has succeeded.
        import psycopg

        try:
            with self.conn.pipeline() as pipeline:
                self.conn.execute("BEGIN")
                cursors = []
                try:
                    for sql in statements:
                        cursors.append(self.conn.execute(sql))
                        self.conn.pgconn.send_flush_request()
                    pipeline.sync()
                except psycopg.Error as exc:  # raised by the sync, or by a later execute that read the error
                    failed = _failed_statement(cursors, len(statements))
                    if failed is None:
                        raise
                    raise BatchFailed(failed, exc) from exc
                record()
                self.conn.execute("COMMIT")
        except BaseException:
            self._rollback_open_transaction()
            raise

    def record_together(self, record: Callable[[], None]) -> None:
        with self.conn.transaction():
            record()

    def _rollback_open_transaction(self) -> None:
        """After a failed batch: the server keeps the failed transaction open until ROLLBACK."""
        import psycopg

        if (
            self.conn.closed
            or self.conn.broken
            or self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        ):
            return
        try:
            self.conn.execute("ROLLBACK")
        except psycopg.Error:  # the session is gone: the server rolled it back
            pass

    def _notice_lost_client(self) -> None:
        # A killed client's statement keeps running (and holding its locks and the migration lock)
        # until the server next talks to the client. From PostgreSQL 14 the server can poll the
        # socket during a statement and cancel it: the transaction is rolled back within a second.
        if int(self.query("SHOW server_version_num")[0][0]) >= 140000:
            self.execute("SET client_connection_check_interval = 1000")

    def acquire_lock(self, name: str, timeout_s: float) -> None:
        # Session-level advisory lock, taken outside any transaction (COMMIT/ROLLBACK keep it), on the
        # session that runs the migrations: it is free only once that session has ended on the server,
        # so a killed client whose last statement is still running keeps everyone else out until the
        # server has cancelled it (not only until our process is gone).
        key = lock_key(name)
        poll_lock(
            lambda: self.conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0],
            name,
            timeout_s,
            self.url.redacted,
            lambda: self.lock_holder(name),
        )
        self._lock_key = key

    def release_lock(self, name: str) -> None:
        if self._lock_key is not None and not self.conn.closed:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", [self._lock_key])
            except Exception:  # noqa: BLE001 - a session that is gone has released it already
                pass
        self._lock_key = None

    def lock_holder(self, name: str) -> str | None:
        key = lock_key(name)
        rows = self.query(
            "SELECT a.pid, a.state, extract(epoch FROM now() - a.query_start)::int, a.query FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1",
            [key >> 32, key & 0xFFFFFFFF],
        )
        if not rows:
            return None
        pid, state, seconds, sql = rows[0]
        doing = f"running for {seconds}s: {_short(sql)}" if state == "active" else f"{state}, last: {_short(sql)}"
        return f"PostgreSQL session {pid} ({doing})"

    def lock_blockers(self, tables: list[str]) -> list[str]:
        rows = self.query(
            "SELECT DISTINCT a.pid, a.usename, a.application_name, a.state, "
            "extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::int, a.query "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND l.pid <> pg_backend_pid() "
            "AND l.relation IN (SELECT to_regclass(quote_ident(t)) FROM unnest(%s::text[]) t) ORDER BY 1",
            [list(tables)],
        )
        return [
            f"PostgreSQL session {pid} (user {user}, application '{app}', {state} for {age}s in its transaction, "
            f"last: {_short(sql)})"
            for pid, user, app, state, age, sql in rows
        ]

    def is_connected(self) -> bool:
        # Not a query: inside a failed transaction every query fails until ROLLBACK, the session is fine.
        return not (self.conn.closed or self.conn.broken)

    def server_version(self) -> str:
        return "PostgreSQL " + self.query("SHOW server_version")[0][0]

    def needs_autocommit(self, statement: str) -> bool:
        return bool(_AUTOCOMMIT_ONLY.match(statement))

    def invalid_indexes(self) -> set[str]:
        rows = self.query(
            "SELECT CASE WHEN n.nspname = current_schema() THEN quote_ident(c.relname) "
            "ELSE quote_ident(n.nspname) || '.' || quote_ident(c.relname) END FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        )
        return {r[0] for r in rows}

    def index_named_by(self, statement: str) -> str | None:
        found = _CONCURRENT_INDEX_NAME.match(statement)
        if not found:
            return None
        name = found["name"]
        return name if name.startswith('"') else name.lower()

    def drop_invalid_index_sql(self, index: str) -> str:
        return f"DROP INDEX CONCURRENTLY IF EXISTS {index};"

    def set_session_timeouts(self, lock_timeout_ms: int | None, statement_timeout_ms: int | None) -> None:
        if lock_timeout_ms is not None:
            self.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        if statement_timeout_ms is not None:
            self.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")

    def history_ddl(self, table: str, log_table: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                version varchar(64) PRIMARY KEY, name text NOT NULL, checksum varchar(80) NOT NULL,
                applied_at timestamptz NOT NULL, duration_ms bigint NOT NULL DEFAULT 0, author text,
                strategy text, status varchar(16) NOT NULL, statements_done integer NOT NULL DEFAULT 0,
                statements_total integer NOT NULL DEFAULT 0, error text, down_script text, backup_id text)""",
            f"""CREATE TABLE IF NOT EXISTS {log_table} (
                id bigserial PRIMARY KEY, version varchar(64) NOT NULL, name text, action varchar(32) NOT NULL,
                outcome varchar(16) NOT NULL, at timestamptz NOT NULL, duration_ms bigint, author text,
                statements_done integer, detail text)""",
        ]

    def table_exists(self, table: str) -> bool:
        return self.query("SELECT to_regclass(%s) IS NOT NULL", [table])[0][0]

    def tables(self) -> list[str]:
        rows = self.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY 1"
        )
        return [r[0] for r in rows]

    def table_stats(self, table: str) -> TableStats:
        # reltuples is -1 until the first VACUUM/ANALYZE (14+): a freshly loaded table of millions of rows
        # is not empty, and n_live_tup has counted its inserts meanwhile.
        rows, size = self.query(
            "SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE coalesce(s.n_live_tup, 0) END, "
            "pg_total_relation_size(c.oid) FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.oid = to_regclass(quote_ident(%s))",
            [table],
        )[0]  # the name as stored: "Order Items" too
        return TableStats(table, rows, size)

    def probe_query(self, sql: str, timeout_ms: int) -> list[tuple] | None:
        import psycopg

        try:
            # SET LOCAL ends with this transaction: the session's own timeouts are untouched.
            with self.conn.transaction():  # both settings in one round trip (no parameters: simple protocol)
                self.conn.execute(f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {max(1, int(timeout_ms))}")
                return self.conn.execute(sql).fetchall()
        except psycopg.Error as exc:
            if self.caps.is_statement_timeout(exc):
                return None
            raise

    def sample_clause(self, percent: float) -> str | None:
        # SYSTEM samples whole pages: it reads only those pages, which is what makes it cheap.
        # REPEATABLE: the same table gives the same sample, so two analyses agree.
        return f"TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (42)"

    def sqlalchemy_url(self) -> str:
        return "postgresql+psycopg://" + self.url.raw.split("://", 1)[1]

    def close(self) -> None:
        self.conn.close()  # ending the session releases the advisory lock
