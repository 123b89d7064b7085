"""rollback.autoOnFailure: a failed apply leaves the database exactly as it was before the command,
and the report says how (transaction rollback, DOWN scripts, or the pre-apply backup)."""

from __future__ import annotations

from pathlib import Path

from backup_helpers import dialect_of, fingerprint, history_rows, make_project, seed, write_migration

from migration_manager.service import ApplyRequest, apply

BASE = (["CREATE TABLE base (id integer PRIMARY KEY)"], ["DROP TABLE base"])
FIRST = (
    ["ALTER TABLE customers ADD COLUMN phone varchar(20)", "UPDATE customers SET phone = 'x' WHERE id < 10"],
    ["ALTER TABLE customers DROP COLUMN phone"],
)
# A failure only the server can find (validation refuses a plan whose failure it can foresee).
FAILS = "INSERT INTO base VALUES (1), (1)"
# Two statements change things, then the third fails: on MariaDB the first two are committed.
HALF_WAY = (
    ["CREATE TABLE half (id integer PRIMARY KEY)", "ALTER TABLE orders ADD COLUMN half_col integer", FAILS],
    ["DROP TABLE half"],
)


def _project_at_base(url: str, tmp_path: Path, **settings) -> Path:
    seed(url)
    project = make_project(tmp_path / "proj", url, **settings)
    write_migration(project, "20240101000000", "base", *BASE)
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"
    return project


def test_failure_half_way_returns_the_database_to_its_state_before_the_command(any_url: str, tmp_path: Path) -> None:
    project = _project_at_base(any_url, tmp_path)
    write_migration(project, "20240102000000", "first", *FIRST)
    write_migration(project, "20240103000000", "half_way", *HALF_WAY)
    before = fingerprint(any_url)

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.outcome == "failed" and report.backup_id
    expected = "backup-restore" if dialect_of(any_url) == "mysql" else "down-scripts"
    assert report.failure_recovery == expected
    assert [m.status for m in report.migrations] == ["rolled-back", "failed"]
    assert report.version_after == "20240101000000"
    assert fingerprint(any_url) == before
    assert sorted(history_rows(any_url)) == [("20240101000000", "applied")]


def test_failure_without_a_usable_down_is_undone_from_the_backup(any_url: str, tmp_path: Path) -> None:
    project = _project_at_base(any_url, tmp_path)
    write_migration(project, "20240102000000", "first_no_down", FIRST[0], None)
    write_migration(project, "20240103000000", "fails", [FAILS], None)
    before = fingerprint(any_url)
    log_before = fingerprint(any_url, with_log=True)["rows"]["schema_migrations_log"]

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.failure_recovery == "backup-restore"
    assert f"restored the pre-apply backup {report.backup_id}" in report.message
    assert report.error.state == f"Restored from backup {report.backup_id}: exactly as before this command."
    assert report.error.next_step == (
        "Fix 20240103000000_fails (or the data it trips on); it is pending again, so run the command again."
    )
    assert fingerprint(any_url) == before
    events = fingerprint(any_url, with_log=True)["rows"]["schema_migrations_log"]
    assert events != log_before  # the audit log keeps the failure and the restore event


def test_a_single_failed_migration_is_undone_by_its_transaction_or_atomic_statement(
    any_url: str, tmp_path: Path
) -> None:
    project = _project_at_base(any_url, tmp_path)
    write_migration(project, "20240102000000", "fails_first", [FAILS, "CREATE TABLE never (id integer)"], None)
    before = fingerprint(any_url)

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.failure_recovery == "transaction-rollback"
    assert fingerprint(any_url) == before  # on MariaDB too: no dirty history row is left behind


def test_without_a_backup_a_half_applied_migration_is_reported_not_recovered(mysql_url: str, tmp_path: Path) -> None:
    project = _project_at_base(mysql_url, tmp_path, autoBackup=False)
    write_migration(project, "20240102000000", "half_way", *HALF_WAY)

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.failure_recovery == "not-recovered" and report.backup_id is None
    assert "autoBackup is off" in report.message
    assert ("20240102000000", "failed") in history_rows(mysql_url)  # dirty, as the error says


def test_autoonfailure_off_leaves_the_failure_for_a_human(mysql_url: str, tmp_path: Path) -> None:
    project = _project_at_base(mysql_url, tmp_path, rollback={"autoOnFailure": False})
    write_migration(project, "20240102000000", "half_way", *HALF_WAY)
    report = apply(ApplyRequest(project_dir=project, env="dev"))
    assert report.outcome == "failed" and report.failure_recovery is None
    assert ("20240102000000", "failed") in history_rows(mysql_url)
