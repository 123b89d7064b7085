"""restore --timestamp: refused with what is missing when the server keeps no WAL archive; the exact
steps when it does (never a fake restore)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from backup_helpers import make_project

from migration_manager.backup.point_in_time import archiving_gaps, steps
from migration_manager.dialects import open_engine
from migration_manager.errors import ConfigError, RestoreFailed
from migration_manager.service import RestoreRequest, restore


def _pitr(url: str, tmp_path: Path, moment: str = "2026-01-15 09:30:00"):
    return restore(RestoreRequest(project_dir=make_project(tmp_path / "proj", url), env="dev", timestamp=moment))


def test_refused_on_this_postgres_server_with_what_is_missing(pg_url: str, tmp_path: Path) -> None:
    engine = open_engine(pg_url)
    archive_mode = engine.query("SHOW archive_mode")[0][0]
    engine.close()
    if archive_mode != "off":
        pytest.skip("this server archives WAL; the refusal needs one that does not")
    with pytest.raises(RestoreFailed) as refused:
        _pitr(pg_url, tmp_path)
    message = refused.value.message
    assert "WAL archiving is not configured" in message and "archive_mode is 'off'" in message
    assert "server restart" in message
    assert "archive_mode = on" in refused.value.next_step and "pg_basebackup" in refused.value.next_step
    assert "backups-and-restore.md" in refused.value.next_step
    assert refused.value.state == "Nothing was changed."


def test_refused_on_mariadb_and_sqlite_with_their_alternative(mysql_url: str, sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(RestoreFailed) as mariadb:
        _pitr(mysql_url, tmp_path / "m")
    assert "binary logging" in mariadb.value.message and "mariadb-binlog" in mariadb.value.next_step
    with pytest.raises(RestoreFailed) as sqlite:
        _pitr(sqlite_url, tmp_path / "s")
    assert "keeps no change log" in sqlite.value.message


def test_an_unreadable_moment_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a moment"):
        _pitr(sqlite_url, tmp_path, "yesterday-ish")


def test_with_archiving_the_steps_replay_wal_into_a_new_data_directory() -> None:
    configured = {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": "test ! -f /mnt/wal/%f && cp %p /mnt/wal/%f",
        "archive_library": "",
    }
    assert archiving_gaps(configured) == []
    moment = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    plan = "\n".join(steps(configured, moment, 5432))
    assert "restore_command = 'cp /mnt/wal/%f %p'" in plan
    assert "recovery_target_time = '2026-01-15T09:30:00+00:00'" in plan and "recovery.signal" in plan
    assert "/var/lib/postgresql/pitr-20260115T093000Z" in plan and "port = 5433" in plan
    assert archiving_gaps({"wal_level": "minimal", "archive_mode": "on", "archive_command": "(disabled)"}) == [
        "wal_level is 'minimal' (needs 'replica' or 'logical')",
        "neither archive_command nor archive_library is set, so no WAL segment is kept",
    ]
