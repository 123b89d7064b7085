"""MySQL / MariaDB via PyMySQL. DDL auto-commits, so progress is recorded per statement."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ...urls import DatabaseURL
from ..base import BatchFailed, TableStats
from ..common import EngineDefaults, connection_failed, poll_lock
from . import DIALECT

HINT = "Check host, port, database name, user and password; is the server running?"


# When run_then_record's statements began, for a record timed by the server's clock (Dialect.server_clock)
_STARTED = "SET @mm_started = UTC_TIMESTAMP(6)"


def connect(url: DatabaseURL) -> MySQLEngine:
    return MySQLEngine(url)


class MySQLEngine(EngineDefaults):
    dialect = "mysql"
    caps = DIALECT
    param = "%s"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.conn = self._connect()
        self._queued: list[str] | None = None  # inside record_together: the writes to send at its end
        self._lock_name: str | None = None
        self._is_mariadb = "mariadb" in self.server_version().lower()

    def _connect(self):
        import pymysql
        from pymysql.constants import CLIENT

        try:
            return pymysql.connect(
                host=self.url.host or "localhost",
                port=self.url.port or 3306,
                user=self.url.user or "root",
                password=self.url.password or "",
                database=self.url.database or None,
                autocommit=True,
                connect_timeout=10,
                charset="utf8mb4",
                client_flag=CLIENT.MULTI_STATEMENTS,  # record_together: a transaction's writes in one round trip
            )
        except pymysql.Error as exc:
            raise connection_failed(self.url, exc, HINT) from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        with self.conn.cursor() as cur:
            if self._queued is not None:
                self._queued.append(cur.mogrify(sql, _adapt(params)))
                return -1
            return cur.execute(sql, _adapt(params))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self._queued is not None:
            raise RuntimeError("record_together() only writes: a query inside it would run before its writes")
        with self.conn.cursor() as cur:
            cur.execute(sql, _adapt(params))
            return list(cur.fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Only DML is protected: any DDL inside commits implicitly (caps.transactional_ddl is False).
        self.conn.begin()
        try:
            yield
        except BaseException:
            try:
                self.conn.rollback()
            except Exception:  # noqa: BLE001 - the session is gone (the server rolled back): the first error matters
                pass
            raise
        self.conn.commit()

    def record_together(self, record: Callable[[], None]) -> None:
        # One multi-statement query: the server runs BEGIN, the writes and COMMIT in order and stops at the first
        # error (then nothing is committed: the transaction is rolled back here). A session that dies mid-way
        # never ran the COMMIT, and the server rolls the rest back.
        self.run_then_record([], record)

    def run_then_record(self, statements: Sequence[str], record: Callable[[], None]) -> None:
        # One multi-statement query: the statements, then BEGIN, the record's writes and COMMIT. The server runs them
        # in order and stops at the first error: each statement before it committed on its own (DDL commits
        # implicitly, as one by one), nothing after it ran. "\n;\n": a statement's last line may be a comment.
        started = [_STARTED] if statements else []  # only a record sent with its statements is timed by the server
        self._queued = []
        try:
            record()
            script = "\n;\n".join([*started, *statements, "BEGIN", *self._queued, "COMMIT"])
        finally:
            self._queued = None
        results = -len(started)  # _STARTED's result comes first
        try:
            with self.conn.cursor() as cur:
                cur.execute(script)
                results += 1
                while cur.nextset():  # each statement's result; an error is raised as it is read
                    results += 1
        except BaseException as exc:
            try:
                self.conn.rollback()
            except Exception:  # noqa: BLE001 - the session is gone (the server rolled back): the first error matters
                pass
            if 0 <= results < len(statements) and isinstance(exc, Exception):
                raise BatchFailed(results + 1, exc) from exc
            raise

    def _scoped(self, name: str) -> str:
        # GET_LOCK names are server-wide: scope them to this database (and keep them <= 64 chars).
        scoped = f"{self.url.database}:{name}"
        return scoped if len(scoped) <= 64 else hashlib.sha256(scoped.encode()).hexdigest()

    def acquire_lock(self, name: str, timeout_s: float) -> None:
        # GET_LOCK is held by the session that runs the statements (COMMIT does not release it).
        # When our process is killed, the server keeps running that session's statement to its end
        # (an ALTER even commits) and only then drops the session and the lock: nobody else starts
        # while a dead run's statement is still changing the schema.
        lock_name = self._scoped(name)
        poll_lock(
            lambda: self.query("SELECT GET_LOCK(%s, 0)", [lock_name])[0][0] == 1,
            name,
            timeout_s,
            self.url.redacted,
            lambda: self.lock_holder(name),
        )
        self._lock_name = lock_name

    def release_lock(self, name: str) -> None:
        if self._lock_name is not None and self.conn.open:
            try:
                self.query("SELECT RELEASE_LOCK(%s)", [self._lock_name])
            except Exception:  # noqa: BLE001 - a session that is gone has released it already
                pass
        self._lock_name = None

    def lock_holder(self, name: str) -> str | None:
        holder = self.query("SELECT IS_USED_LOCK(%s)", [self._scoped(name)])[0][0]
        if holder is None:
            return None
        found = self._activity(holder)
        return f"MariaDB/MySQL connection {holder}" + (f" ({found[1]})" if found else "")

    def lock_blockers(self, tables: list[str]) -> list[str]:
        import pymysql

        try:  # the metadata_lock_info plugin names the sessions holding a table's metadata lock
            ids = [
                r[0]
                for r in self.query(
                    "SELECT DISTINCT thread_id FROM information_schema.metadata_lock_info WHERE table_schema = DATABASE() "
                    f"AND table_name IN ({', '.join(['%s'] * len(tables))}) AND thread_id <> CONNECTION_ID()",
                    tables,
                )
            ]
            note = ""
        except pymysql.Error:  # not installed: every other open transaction may be the one
            ids = [
                r[0]
                for r in self.query(
                    "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx "
                    "WHERE trx_mysql_thread_id <> CONNECTION_ID()"
                )
            ]
            note = ", has an open transaction (the server does not say on which tables without metadata_lock_info)"
        return [self._describe_session(i, note) for i in sorted(ids)]

    def _describe_session(self, session: int, note: str) -> str:
        found = self._activity(session)
        return f"MariaDB/MySQL connection {session}" + (f" (user {found[0]}, {found[1]})" if found else "") + note

    def _activity(self, session: int) -> tuple[str, str] | None:
        """`user@host` and what the session is doing (its statement and for how long), or None when it is gone."""
        found = self.query(
            "SELECT user, host, command, time, info FROM information_schema.processlist WHERE id = %s", [session]
        )
        if not found:
            return None
        user, host, command, seconds, sql = found[0]
        doing = f"running for {seconds}s: {' '.join(sql.split())[:100]}" if sql else f"{command.lower()} for {seconds}s"
        return f"{user}@{host}", doing

    def is_connected(self) -> bool:
        if not self.conn.open:  # PyMySQL closes its side on "Lost connection" (2013) and friends
            return False
        try:
            self.conn.ping(reconnect=False)
        except Exception:  # noqa: BLE001 - killed server-side (KILL CONNECTION) before we noticed
            return False
        return True

    def server_version(self) -> str:
        version = self.query("SELECT VERSION()")[0][0]
        return version if "mariadb" in version.lower() else f"MySQL {version}"

    def set_session_timeouts(self, lock_timeout_ms: int | None, statement_timeout_ms: int | None) -> None:
        # lock_wait_timeout defaults to one year: a DDL queued behind a long transaction blocks everyone.
        if lock_timeout_ms:  # None or 0: no timeout of ours (0 would otherwise round up to 1 s)
            self.execute(f"SET SESSION lock_wait_timeout = {max(1, int(lock_timeout_ms) // 1000)}")
            self.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(lock_timeout_ms) // 1000)}")
        if statement_timeout_ms is not None and self._is_mariadb:
            self.execute(f"SET SESSION max_statement_time = {int(statement_timeout_ms) / 1000:.3f}")

    def history_ddl(self, table: str, log_table: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                version VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum VARCHAR(80) NOT NULL,
                applied_at DATETIME(6) NOT NULL, duration_ms BIGINT NOT NULL DEFAULT 0, author VARCHAR(255),
                strategy VARCHAR(32), status VARCHAR(16) NOT NULL, statements_done INT NOT NULL DEFAULT 0,
                statements_total INT NOT NULL DEFAULT 0, error TEXT, down_script LONGTEXT, backup_id VARCHAR(255)
            ) ENGINE=InnoDB""",
            f"""CREATE TABLE IF NOT EXISTS {log_table} (
                id BIGINT AUTO_INCREMENT PRIMARY KEY, version VARCHAR(64) NOT NULL, name VARCHAR(255),
                action VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL, at DATETIME(6) NOT NULL,
                duration_ms BIGINT, author VARCHAR(255), statements_done INT, detail TEXT
            ) ENGINE=InnoDB""",
        ]

    def table_exists(self, table: str) -> bool:
        return bool(
            self.query(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s", [table]
            )
        )

    def tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        return [r[0] for r in rows]

    def table_stats(self, table: str) -> TableStats:
        found = self.query(
            "SELECT coalesce(table_rows, 0), coalesce(data_length, 0) + coalesce(index_length, 0) "
            "FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
            [table],
        )
        rows, size = found[0] if found else (0, 0)
        return TableStats(table, int(rows), int(size))

    def probe_query(self, sql: str, timeout_ms: int) -> list[tuple] | None:
        import pymysql

        if self._is_mariadb:  # MariaDB: a per-statement max_statement_time (seconds)
            bounded = f"SET STATEMENT max_statement_time = {max(0.001, timeout_ms / 1000):.3f} FOR {sql}"
        else:  # MySQL: the optimizer hint applies to this SELECT only (milliseconds)
            bounded = sql.replace("SELECT", f"SELECT /*+ MAX_EXECUTION_TIME({max(1, int(timeout_ms))}) */", 1)
        try:
            return self.query(bounded)
        except pymysql.err.OperationalError as exc:
            if self.caps.is_statement_timeout(exc):
                return None
            raise

    def sample_clause(self, percent: float) -> str | None:
        return None  # no TABLESAMPLE: probes read the whole table within their time budget

    def sqlalchemy_url(self) -> str:
        return "mysql+pymysql://" + self.url.raw.split("://", 1)[1]

    def close(self) -> None:
        try:
            self.conn.close()  # ending the session releases GET_LOCK
        except Exception:  # noqa: BLE001 - already closed by a lost connection
            pass


def _adapt(params: Sequence[Any] | None) -> Sequence[Any] | None:
    # DATETIME has no time zone: store UTC, naive (history timestamps are always UTC).
    if params is None:
        return None
    return [p.astimezone(UTC).replace(tzinfo=None) if isinstance(p, datetime) and p.tzinfo else p for p in params]
