"""The history table (one row per applied migration) and its append-only event log.

Statuses: applied; running (a per-statement run in progress — found while we hold the lock,
it means the run died); failed (a per-statement apply stopped at statement k);
rolling_back / rollback_failed (the same for a rollback). Anything but `applied` is dirty.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from .engines.base import Engine
from .errors import HistoryConflict

APPLIED = "applied"
DIRTY_STATUSES = {"running", "failed", "rolling_back", "rollback_failed"}
COLUMNS = ("version", "name", "checksum", "applied_at", "duration_ms", "author", "strategy", "status",
           "statements_done", "statements_total", "error", "down_script", "backup_id")


class HistoryRow(BaseModel):
    version: str
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: int = 0
    author: str | None = None
    strategy: str | None = None
    status: str = APPLIED
    statements_done: int = 0
    statements_total: int = 0
    error: str | None = None
    down_script: str | None = None
    backup_id: str | None = None

    @property
    def dirty(self) -> bool:
        return self.status in DIRTY_STATUSES


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class History:
    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.log_table = f"{table}_log"
        self._p = engine.param

    def ensure(self) -> None:
        if not self.engine.table_exists(self.table) or not self.engine.table_exists(self.log_table):
            for ddl in self.engine.history_ddl(self.table, self.log_table):
                self.engine.execute(ddl)

    def exists(self) -> bool:
        return self.engine.table_exists(self.table)

    def rows(self) -> dict[str, HistoryRow]:
        """Every history row in one read, keyed by version (O(1) 'already applied?' lookups)."""
        if not self.exists():
            return {}
        try:
            found = self.engine.query(f"SELECT {', '.join(COLUMNS)} FROM {self.table}")
        except Exception as exc:  # noqa: BLE001 - most likely another tool's table of the same name
            raise foreign_table(self.table, exc) from None
        return {r[0]: HistoryRow(**dict(zip(COLUMNS, r)) | {"applied_at": as_utc(r[3])}) for r in found}

    def insert(self, row: HistoryRow) -> None:
        values = [getattr(row, c) for c in COLUMNS]
        placeholders = ", ".join([self._p] * len(COLUMNS))
        self.engine.execute(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES ({placeholders})", values)

    def update(self, version: str, **changes: Any) -> None:
        sets = ", ".join(f"{k} = {self._p}" for k in changes)
        self.engine.execute(f"UPDATE {self.table} SET {sets} WHERE version = {self._p}", [*changes.values(), version])

    def delete(self, version: str) -> None:
        self.engine.execute(f"DELETE FROM {self.table} WHERE version = {self._p}", [version])

    def log(self, version: str, name: str | None, action: str, outcome: str, *, duration_ms: int | None = None,
            author: str | None = None, statements_done: int | None = None, detail: str | None = None) -> None:
        cols = ("version", "name", "action", "outcome", "at", "duration_ms", "author", "statements_done", "detail")
        values = [version, name, action, outcome, utcnow(), duration_ms, author, statements_done, detail]
        placeholders = ", ".join([self._p] * len(cols))
        self.engine.execute(f"INSERT INTO {self.log_table} ({', '.join(cols)}) VALUES ({placeholders})", values)

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        if not self.engine.table_exists(self.log_table):
            return []
        cols = ("id", "version", "name", "action", "outcome", "at", "duration_ms", "author", "statements_done", "detail")
        rows = self.engine.query(f"SELECT {', '.join(cols)} FROM {self.log_table} ORDER BY id DESC LIMIT {int(limit)}")
        return [dict(zip(cols, r)) | {"at": as_utc(r[5])} for r in rows]


def foreign_table(table: str, exc: Exception) -> HistoryConflict:
    return HistoryConflict(
        f"The table '{table}' exists but is not a migration-manager history table "
        f"({' '.join(str(exc).split())[:200]}). golang-migrate, dbmate and Rails use the same name.",
        state="Nothing was changed; the other tool's table is untouched.",
        next_step="Set historyTable to another name (e.g. \"historyTable\": \"mm_schema_migrations\" in "
        "skills.migration-manager), then record what is already applied with `db-migrate baseline --to VERSION`.",
    )


def as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
