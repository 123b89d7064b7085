"""SQLite: the online backup API (sqlite3.Connection.backup), page by page, consistent while the
database stays in use. A restore copies the backup back the same way: the target's pages are
replaced in one write transaction, so readers see the old or the new database, never a mix.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from ...backup import Dump
from ...backup import point_in_time as pitr
from ...backup.manifest import Manifest
from ...errors import BackupFailed
from ..base import Engine

TABLE_SCOPE = False  # one file: copying all of it is as cheap as copying a part
ATOMIC_RESTORE = True  # the backup API replaces the pages in one write transaction


def size(engine: Engine) -> int:
    page_size, pages = engine.query("PRAGMA page_size")[0][0], engine.query("PRAGMA page_count")[0][0]
    return int(page_size) * int(pages)


def backup(engine: Engine, folder: Path, tables: list[str] | None) -> Dump:
    name = "database.sqlite"
    try:
        with sqlite3.connect(folder / name) as target:
            engine.conn.backup(target)
        target.close()
    except sqlite3.Error as exc:
        raise BackupFailed(
            f"Could not back up {engine.url.redacted}: {exc}",
            state="Nothing was changed.",
            next_step="Check the disk space and permissions of backupDir.",
        ) from None
    return Dump(
        name, f"sqlite3 online backup API (SQLite {sqlite3.sqlite_version})", "sqlite3.Connection.backup()", "sqlite"
    )


def restore(engine: Engine, path: Path, manifest: Manifest, *, into_empty: bool) -> None:
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            source.backup(engine.conn)
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupFailed(
            f"Could not restore backup {manifest.id}: {exc}",
            state="Unchanged: SQLite replaces the pages in one write transaction.",
            next_step="Check that nothing else holds a write lock on the database, then retry.",
        ) from None


def point_in_time(engine: Engine, moment: datetime) -> tuple[list[str], str]:
    """Refused: a database file keeps no log to replay up to a moment."""
    raise pitr.sqlite_refusal()
