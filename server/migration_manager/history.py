"""The history table (one row per applied migration) and its append-only event log.

Statuses: applied; running (a per-statement run in progress — found while we hold the lock,
it means the run died); failed (a per-statement apply stopped at statement k);
rolling_back / rollback_failed (the same for a rollback). Anything but `applied` is dirty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from .dialects.base import Engine
from .errors import HistoryConflict

APPLIED = "applied"
EXPANDED = "expanded"  # an online migration whose expand phase ran: waiting for `db-migrate complete`
DIRTY_STATUSES = {"running", "failed", "rolling_back", "rollback_failed"}
ROLLBACK_STATUSES = {"rolling_back", "rollback_failed"}  # dirty while rolling back (else while applying)
UNFINISHED_STATUSES = {"running", "rolling_back"}  # the run never recorded its end (else a statement failed)
COLUMNS = (
    "version",
    "name",
    "checksum",
    "applied_at",
    "duration_ms",
    "author",
    "strategy",
    "status",
    "statements_done",
    "statements_total",
    "error",
    "down_script",
    "backup_id",
)
# What the online strategies keep per migration, added to an existing history table the first time a strategy runs
# (ensure_strategy_columns): the phase (expand | expanded | complete), the plan of phases as applied (JSON: complete
# and rollback run it even when the file changed or is gone), and the last backfill checkpoint (JSON).
STRATEGY_COLUMNS = {"phase": "VARCHAR(16)", "phases": "TEXT", "checkpoint": "TEXT"}
LOG_COLUMNS = ("id", "version", "name", "action", "outcome", "at", "duration_ms", "author", "statements_done", "detail")
EVENT_COLUMNS = LOG_COLUMNS[1:]  # what a new event sets (the id is generated)


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
    return datetime.now(UTC)


class History:
    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.log_table = f"{table}_log"
        self._p = engine.param
        self._verified = False
        # The version whose "running" row the previous migration's final record inserted (Runner: one commit
        # for both on MariaDB); its own run then does not insert it again.
        self.started_ahead: str | None = None
        self._columns: dict[str, bool] = {}  # optional columns seen present or absent (asked once per command)

    def ensure(self) -> None:
        self.verify()  # another tool's table of the same name: refuse before creating its missing partner
        if not self.engine.table_exists(self.table) or not self.engine.table_exists(self.log_table):
            for ddl in self.engine.history_ddl(self.table, self.log_table):
                self.engine.execute(ddl)
            self._columns.clear()

    def verify(self) -> None:
        """Raise HistoryConflict when a table of either name exists but is not ours (once per command)."""
        if self._verified:
            return
        for table, columns in ((self.table, COLUMNS), (self.log_table, LOG_COLUMNS)):
            if self.engine.table_exists(table):
                try:
                    self.engine.query(f"SELECT {', '.join(columns)} FROM {table} WHERE 1 = 0")
                except Exception as exc:  # noqa: BLE001 - most likely another tool's table of the same name
                    raise foreign_table(table, exc) from None
        self._verified = True

    def exists(self) -> bool:
        return self.engine.table_exists(self.table)

    def rows(self) -> dict[str, HistoryRow]:
        """Every history row in one read, keyed by version (O(1) 'already applied?' lookups)."""
        self.verify()
        if not self.exists():
            return {}
        found = self.engine.query(f"SELECT {', '.join(COLUMNS)} FROM {self.table}")
        return {r[0]: HistoryRow(**dict(zip(COLUMNS, r)) | {"applied_at": as_utc(r[3])}) for r in found}

    def insert(self, row: HistoryRow, *, by_server: bool = False) -> None:
        """by_server: applied_at and duration_ms from the server's clock, written before the transaction has run
        (a record sent ahead of its statements: Engine.run_transactions)."""
        timed = self._server_times({"applied_at": "started", "duration_ms": "elapsed_ms"}, by_server)
        values = [getattr(row, c) for c in COLUMNS if c not in timed]
        self.engine.execute(
            f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES ({self._values(COLUMNS, timed)})", values
        )

    def durations(self, versions: list[str]) -> dict[str, int]:
        """duration_ms of these versions' rows, as recorded (by the server's clock, for those sent together)."""
        marks = ", ".join([self._p] * len(versions))
        found = self.engine.query(f"SELECT version, duration_ms FROM {self.table} WHERE version IN ({marks})", versions)
        return dict(found)

    def _server_times(self, columns: dict[str, str], by_server: bool) -> dict[str, str]:
        """column -> the server clock's SQL for it (ServerClock's field named in `columns`); {} unless by_server."""
        clock = self.engine.caps.server_clock if by_server else None
        return {column: getattr(clock, field) for column, field in columns.items()} if clock else {}

    def _values(self, columns: tuple[str, ...], timed: dict[str, str]) -> str:
        return ", ".join(timed.get(c, self._p) for c in columns)

    def update(self, version: str, *, by_server: bool = False, **changes: Any) -> None:
        """by_server: applied_at and duration_ms (when changed) from the server's clock (see insert)."""
        timed = self._server_times({"applied_at": "now", "duration_ms": "elapsed_ms"}, by_server)
        sets = ", ".join(f"{k} = {timed.get(k, self._p)}" for k in changes)
        values = [v for k, v in changes.items() if k not in timed]
        self.engine.execute(f"UPDATE {self.table} SET {sets} WHERE version = {self._p}", [*values, version])

    def delete(self, version: str) -> None:
        self.engine.execute(f"DELETE FROM {self.table} WHERE version = {self._p}", [version])

    # ---- the online strategies' columns (absent from tables no strategy has used) ------------------------------
    def ensure_strategy_columns(self) -> None:
        for column, type_sql in STRATEGY_COLUMNS.items():
            if not self._has_column(column):
                self.engine.execute(f"ALTER TABLE {self.table} ADD COLUMN {column} {type_sql}")
                self._columns[column] = True

    def strategy_state(self, version: str) -> dict[str, str | None]:
        """phase, phases and checkpoint of `version` (all None where no strategy ever ran)."""
        if not self._has_column("phase"):
            return dict.fromkeys(STRATEGY_COLUMNS)
        found = self.engine.query(
            f"SELECT {', '.join(STRATEGY_COLUMNS)} FROM {self.table} WHERE version = {self._p}", [version]
        )
        return dict(zip(STRATEGY_COLUMNS, found[0])) if found else dict.fromkeys(STRATEGY_COLUMNS)

    def _has_column(self, column: str) -> bool:
        """Asked once per command (apply asks for every pending migration): only this command adds them."""
        if column not in self._columns:
            try:
                self.engine.query(f"SELECT {column} FROM {self.table} WHERE 1 = 0")
                self._columns[column] = True
            except Exception:  # noqa: BLE001 - the column is missing (an autocommit session: nothing to roll back)
                self._columns[column] = False
        return self._columns[column]

    def log(
        self,
        version: str,
        name: str | None,
        action: str,
        outcome: str,
        *,
        duration_ms: int | None = None,
        author: str | None = None,
        statements_done: int | None = None,
        detail: str | None = None,
        by_server: bool = False,
    ) -> None:
        """by_server: its time and duration_ms from the server's clock (see insert)."""
        timed = self._server_times({"at": "now", "duration_ms": "elapsed_ms"}, by_server)
        given = dict(
            zip(EVENT_COLUMNS, [version, name, action, outcome, utcnow(), duration_ms, author, statements_done, detail])
        )
        values = [v for c, v in given.items() if c not in timed]
        self.engine.execute(
            f"INSERT INTO {self.log_table} ({', '.join(EVENT_COLUMNS)}) VALUES ({self._values(EVENT_COLUMNS, timed)})",
            values,
        )

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        self.verify()
        if not self.engine.table_exists(self.log_table):
            return []
        rows = self.engine.query(
            f"SELECT {', '.join(LOG_COLUMNS)} FROM {self.log_table} ORDER BY id DESC LIMIT {int(limit)}"
        )
        return [dict(zip(LOG_COLUMNS, r)) | {"at": as_utc(r[5])} for r in rows]


def foreign_table(table: str, exc: Exception) -> HistoryConflict:
    return HistoryConflict(
        f"The table '{table}' exists but is not a migration-manager history table "
        f"({' '.join(str(exc).split())[:200]}): it belongs to another tool or to the application "
        "(golang-migrate, dbmate and Rails name theirs schema_migrations).",
        state="Nothing was changed: no table was created and that table is untouched.",
        next_step='Set historyTable to another name (e.g. "historyTable": "mm_schema_migrations" in '
        "skills.migration-manager), then record what is already applied with `db-migrate baseline --to VERSION`.",
    )


def as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
