"""backup -> drop / alter / add -> restore gives back the identical schema and identical rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_helpers import another_database, dialect_of, fingerprint, run_sql

from migration_manager.errors import RestoreFailed
from migration_manager.service import BackupRequest, RestoreRequest, backup, restore


def _damage(url: str) -> None:
    drop_view = "DROP VIEW big_orders"
    run_sql(
        url,
        drop_view,
        "DROP TABLE orders",
        "ALTER TABLE customers ADD COLUMN phone varchar(20)",
        "UPDATE customers SET note = 'overwritten' WHERE id <= 10",
        "DELETE FROM customers WHERE id > 400",
        "CREATE TABLE created_after_backup (id integer PRIMARY KEY)",
    )


def test_restore_returns_identical_schema_and_rows(seeded: tuple[str, Path]) -> None:
    url, project = seeded
    before = fingerprint(url)
    taken = backup(BackupRequest(project_dir=project, env="dev", action="create")).backups[0]
    _damage(url)
    assert fingerprint(url) != before

    plan = restore(RestoreRequest(project_dir=project, env="dev", latest=True))
    assert plan.outcome == "needs-approval" and fingerprint(url) != before  # nothing changes without a yes
    done = restore(
        RestoreRequest(project_dir=project, env="dev", backup_id=taken.id, approved=True, approved_plan_id=plan.plan_id)
    )

    assert done.outcome == "done" and done.checksum_verified and done.backup.id == taken.id
    after = fingerprint(url)
    assert after["schema"] == before["schema"]
    assert after["rows"] == before["rows"]
    assert after["views"] == before["views"] == ["big_orders"]


def test_restore_refuses_a_backup_whose_file_was_modified(seeded: tuple[str, Path]) -> None:
    url, project = seeded
    taken = backup(BackupRequest(project_dir=project, env="dev", action="create")).backups[0]
    dump = project / ".migration-manager" / "backups" / taken.id / taken.file
    target = next(p for p in sorted(dump.rglob("*")) if p.is_file()) if dump.is_dir() else dump
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    run_sql(url, "CREATE TABLE after_backup (id integer)")
    before = fingerprint(url)

    with pytest.raises(RestoreFailed) as refused:
        restore(RestoreRequest(project_dir=project, env="dev", latest=True, approved=True))

    assert "does not match its manifest" in refused.value.message and taken.id in refused.value.message
    assert "Nothing was changed" in refused.value.state
    assert fingerprint(url) == before


def test_restore_into_another_database_leaves_the_environment_alone(seeded: tuple[str, Path], tmp_path: Path) -> None:
    url, project = seeded
    original = fingerprint(url)
    backup(BackupRequest(project_dir=project, env="dev", action="create"))
    run_sql(url, "DELETE FROM orders WHERE id > 10")
    changed = fingerprint(url)
    with another_database(url, tmp_path) as copy:
        report = restore(RestoreRequest(project_dir=project, env="dev", latest=True, into_url=copy))
        assert report.outcome == "done" and report.into and not report.needs_approval
        restored = fingerprint(copy)
        assert restored["schema"] == original["schema"] and restored["rows"] == original["rows"]
        run_sql(copy, "CREATE TABLE now_busy (id integer)")
        with pytest.raises(RestoreFailed, match="not empty"):
            restore(RestoreRequest(project_dir=project, env="dev", latest=True, into_url=copy))
    assert fingerprint(url) == changed


def test_restore_refuses_a_backup_of_another_database_kind(seeded: tuple[str, Path], tmp_path: Path) -> None:
    url, project = seeded
    backup(BackupRequest(project_dir=project, env="dev", action="create"))
    other = "sqlite:///" + str(tmp_path / "other.db") if dialect_of(url) != "sqlite" else "postgresql://x@127.0.0.1/x"
    with pytest.raises(RestoreFailed, match="backup; .* is not"):
        restore(RestoreRequest(project_dir=project, env="dev", latest=True, into_url=other))
