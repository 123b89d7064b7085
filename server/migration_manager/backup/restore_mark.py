"""The mark of a restore that is not one transaction (MariaDB: drops, then the dump statement by statement).

A table of its own, written before anything is dropped and dropped once the restore has completed. The
restore's drops leave it alone (`_mm_` tables are the tool's), so a restore killed part-way leaves it
behind, and every command can tell that the database is PARTLY RESTORED instead of reading the tables
the killed restore happened to load. It also keeps the event-log rows the restore puts back (the log
itself is dropped and reloaded), so the attempt that completes still has them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from ..dialects.base import Engine

TABLE = "_mm_restore_in_progress"


@dataclass
class RestoreMark:
    backup_id: str
    started_at: str  # UTC, ISO 8601
    started_by: str
    events: list[list]  # event-log rows (history.EVENT_COLUMNS) written since the backup


def read(engine: Engine) -> RestoreMark | None:
    if not engine.table_exists(TABLE):
        return None
    found = engine.query(f"SELECT backup_id, started_at, started_by, events FROM {TABLE}")
    if not found:  # killed between creating the table and writing its row: nothing was dropped yet
        return None
    backup_id, started_at, started_by, events = found[0]
    return RestoreMark(backup_id, started_at, started_by, json.loads(events))


def write(engine: Engine, mark: RestoreMark) -> None:
    """Replace any earlier mark (a second attempt keeps the first attempt's events: the caller passes them)."""
    engine.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (backup_id varchar(100) NOT NULL, started_at varchar(40) "
        "NOT NULL, started_by varchar(200) NOT NULL, events longtext NOT NULL)"
    )
    engine.execute(f"DELETE FROM {TABLE}")
    p = engine.param
    engine.execute(
        f"INSERT INTO {TABLE} VALUES ({p}, {p}, {p}, {p})",
        [mark.backup_id, mark.started_at, mark.started_by, json.dumps(mark.events, default=_as_text)],
    )


def clear(engine: Engine) -> None:
    engine.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _as_text(value: object) -> str:
    # The log's `at` column: the server reads the text back into a DATETIME on insert.
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
