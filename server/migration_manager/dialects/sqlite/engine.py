"""SQLite: the embedded default. DDL is transactional; the migration lock is a file lock."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ...urls import DatabaseURL
from ..base import TableStats
from ..common import EngineDefaults, connection_failed, poll_lock
from . import DIALECT

_AUTOCOMMIT_ONLY = re.compile(r"^\s*(vacuum)\b", re.IGNORECASE)


def connect(url: DatabaseURL) -> SQLiteEngine:
    return SQLiteEngine(url)


class SQLiteEngine(EngineDefaults):
    dialect = "sqlite"
    caps = DIALECT
    param = "?"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.path = url.database
        self._lock_fd: int | None = None
        if self.path != ":memory:" and not Path(self.path).parent.exists():
            raise connection_failed(
                url,
                FileNotFoundError(f"folder {Path(self.path).parent} does not exist"),
                "Create the folder, or fix the path in the URL.",
            )
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing is committed behind our back.
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            self.conn.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as exc:
            raise connection_failed(url, exc, "Check the file path and its permissions.") from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        return self.conn.execute(sql, _adapt(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.conn.execute(sql, _adapt(params)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once, so two writers never both start and one fails late.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def record_together(self, record: Callable[[], None]) -> None:
        with self.transaction():
            record()

    def acquire_lock(self, name: str, timeout_s: float) -> None:
        if self.path == ":memory:":
            return
        self._lock_fd = os.open(f"{self.path}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o644)

        def try_once() -> bool:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        poll_lock(try_once, name, timeout_s, self.url.redacted, lambda: self.lock_holder(name))
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, str(os.getpid()).encode())  # for lock_holder's message only

    def lock_blockers(self, tables: list[str]) -> list[str]:
        return []  # a file lock: SQLite does not say which process holds it

    def lock_holder(self, name: str) -> str | None:
        path = f"{self.path}.migrate-lock"
        if self.path == ":memory:" or not os.path.exists(path):
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted: nobody holds the exclusive lock
            return None
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return f"process {pid or '?'} (lock file {path})"
        finally:
            os.close(fd)

    def release_lock(self, name: str) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def is_connected(self) -> bool:
        return True  # a file: there is no server to lose

    def server_version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def needs_autocommit(self, statement: str) -> bool:
        return bool(_AUTOCOMMIT_ONLY.match(statement))

    def set_session_timeouts(self, lock_timeout_ms: int | None, statement_timeout_ms: int | None) -> None:
        if lock_timeout_ms is not None:
            self.conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")

    def history_ddl(self, table: str, log_table: str) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS {table} (
                version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                applied_at TEXT NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0, author TEXT,
                strategy TEXT, status TEXT NOT NULL, statements_done INTEGER NOT NULL DEFAULT 0,
                statements_total INTEGER NOT NULL DEFAULT 0, error TEXT, down_script TEXT, backup_id TEXT)""",
            f"""CREATE TABLE IF NOT EXISTS {log_table} (
                id INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL, name TEXT, action TEXT NOT NULL,
                outcome TEXT NOT NULL, at TEXT NOT NULL, duration_ms INTEGER, author TEXT,
                statements_done INTEGER, detail TEXT)""",
        ]

    def table_exists(self, table: str) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]))

    def tables(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [r[0] for r in rows]

    def table_stats(self, table: str) -> TableStats:
        rows = self.query(f"SELECT count(*) FROM {self.caps.quote(table)}")[0][0]  # a name like we"ird
        try:
            size = self.query("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?", [table])[0][0]
        except sqlite3.Error:  # dbstat is a compile-time option
            size = 0
        return TableStats(table, rows, size)

    def probe_query(self, sql: str, timeout_ms: int) -> list[tuple] | None:
        deadline = time.monotonic() + timeout_ms / 1000
        # The progress handler is SQLite's way to stop a running query: non-zero aborts it.
        self.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            return self.conn.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if self.caps.is_statement_timeout(exc):
                return None
            raise
        finally:
            self.conn.set_progress_handler(None, 0)

    def sample_clause(self, percent: float) -> str | None:
        return None

    def sqlalchemy_url(self) -> str:
        return f"sqlite:///{self.path}"

    def close(self) -> None:
        self.release_lock("")
        self.conn.close()


def _adapt(params: Sequence[Any] | None) -> Sequence[Any]:
    # sqlite3's datetime adapter is deprecated: store ISO-8601 text, which sorts correctly.
    return [p.isoformat() if isinstance(p, datetime) else p for p in (params or ())]
