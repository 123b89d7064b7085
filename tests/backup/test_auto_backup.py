"""autoBackup: apply and rollback take a backup after the approval gate and before any change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backup_helpers import fingerprint, history_rows, make_project, run_sql, seed, write_migration

from migration_manager.dialects import open_engine
from migration_manager.errors import BackupFailed
from migration_manager.service import (
    ApplyRequest,
    BackupRequest,
    RestoreRequest,
    RollbackRequest,
    apply,
    backup,
    restore,
    rollback,
)
from migration_manager.service.backups import store_of
from migration_manager.service.context import open_project

ADD_PHONE = (["ALTER TABLE customers ADD COLUMN phone varchar(20)"], ["ALTER TABLE customers DROP COLUMN phone"])


def _history_backup_ids(url: str) -> dict[str, str | None]:
    engine = open_engine(url)
    try:
        return dict(engine.query("SELECT version, backup_id FROM schema_migrations"))
    finally:
        engine.close()


def test_apply_records_its_backup_in_history_report_and_manifest(seeded: tuple[str, Path]) -> None:
    url, project = seeded
    write_migration(project, "20240101000000", "add_phone", *ADD_PHONE)

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.outcome == "done" and report.backup_id
    assert _history_backup_ids(url) == {"20240101000000": report.backup_id}
    manifest = store_of(open_project(ApplyRequest(project_dir=project, env="dev"))).get(report.backup_id)
    assert manifest.reason == "apply" and manifest.environment == "dev"
    assert manifest.version_before is None and manifest.version_after == "20240101000000"
    assert manifest.size_bytes > 0 and len(manifest.sha256) == 64
    assert manifest.expires_at > manifest.created_at


def test_rollback_takes_a_backup_before_running_the_down(seeded: tuple[str, Path]) -> None:
    url, project = seeded
    write_migration(project, "20240101000000", "add_phone", *ADD_PHONE)
    applied = apply(ApplyRequest(project_dir=project, env="dev"))
    report = rollback(RollbackRequest(project_dir=project, env="dev"))
    assert report.outcome == "done" and report.backup_id and report.backup_id != applied.backup_id
    listed = backup(BackupRequest(project_dir=project, env="dev", action="list")).backups
    assert [(m.reason, m.version_before, m.version_after) for m in listed] == [
        ("apply", None, "20240101000000"),
        ("rollback", "20240101000000", None),
    ]


def test_dry_run_and_nothing_to_do_take_no_backup(seeded: tuple[str, Path]) -> None:
    url, project = seeded
    write_migration(project, "20240101000000", "add_phone", *ADD_PHONE)
    assert apply(ApplyRequest(project_dir=project, env="dev", dry_run=True)).backup_id is None
    apply(ApplyRequest(project_dir=project, env="dev"))
    assert apply(ApplyRequest(project_dir=project, env="dev")).backup_id is None
    assert len(backup(BackupRequest(project_dir=project, env="dev", action="list")).backups) == 1


def test_unwritable_backup_dir_refuses_the_migration_before_any_change(any_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    project = make_project(tmp_path / "proj", any_url, backupDir=str(blocker / "backups"))
    write_migration(
        project, "20240101000000", "create_t", ["CREATE TABLE t (id integer PRIMARY KEY)"], ["DROP TABLE t"]
    )
    run_sql(any_url, "CREATE TABLE keep (id integer)")
    before = fingerprint(any_url, user_tables_only=True)

    with pytest.raises(BackupFailed) as refused:
        apply(ApplyRequest(project_dir=project, env="dev"))

    assert "not writable" in refused.value.message and refused.value.state == "Nothing was changed."
    assert "backupDir" in refused.value.next_step
    assert fingerprint(any_url, user_tables_only=True) == before  # no table t
    assert history_rows(any_url) == []


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_missing_client_tool_refuses_the_migration_with_what_to_install(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = request.getfixturevalue("pg_url" if kind == "postgres" else "mysql_url")
    project = make_project(tmp_path / "proj", url)
    write_migration(
        project, "20240101000000", "create_t", ["CREATE TABLE t (id integer PRIMARY KEY)"], ["DROP TABLE t"]
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    before = fingerprint(url, user_tables_only=True)

    with pytest.raises(BackupFailed) as refused:
        apply(ApplyRequest(project_dir=project, env="dev"))

    tool = "pg_dump" if kind == "postgres" else "mariadb-dump / mysqldump"
    assert refused.value.message.startswith(f"{tool} is not installed")
    assert "Install it" in refused.value.next_step and "autoBackup: false" in refused.value.next_step
    assert fingerprint(url, user_tables_only=True) == before and history_rows(url) == []
    assert not list((project / ".migration-manager" / "backups").iterdir())  # no half-written backup left


def test_autobackup_off_takes_none(any_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", any_url, autoBackup=False)
    write_migration(
        project, "20240101000000", "create_t", ["CREATE TABLE t (id integer PRIMARY KEY)"], ["DROP TABLE t"]
    )
    assert apply(ApplyRequest(project_dir=project, env="dev")).backup_id is None
    assert not (project / ".migration-manager" / "backups").exists()


@pytest.mark.parametrize("kind", ["postgres", "mysql"])  # a SQLite backup is always the whole file
def test_backup_holds_only_the_touched_tables_when_nothing_else_depends_on_them(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("pg_url" if kind == "postgres" else "mysql_url")
    seed(url)
    project = make_project(tmp_path / "proj", url)
    run_sql(url, "CREATE TABLE settings (k varchar(50) PRIMARY KEY, v text)")
    write_migration(
        project,
        "20240101000000",
        "settings_flag",
        ["ALTER TABLE settings ADD COLUMN flag integer", "CREATE TABLE settings_audit (id integer PRIMARY KEY)"],
        ["DROP TABLE settings_audit", "ALTER TABLE settings DROP COLUMN flag"],
    )
    write_migration(project, "20240102000000", "customers_phone", *ADD_PHONE)

    first = apply(ApplyRequest(project_dir=project, env="dev", to_version="20240101000000"))
    second = apply(ApplyRequest(project_dir=project, env="dev"))

    store = store_of(open_project(ApplyRequest(project_dir=project, env="dev")))
    scoped = store.get(first.backup_id)
    assert scoped.scope == "tables"
    assert scoped.tables == ["schema_migrations", "schema_migrations_log", "settings", "settings_audit"]
    whole = store.get(second.backup_id)  # orders has a foreign key into customers, and a view reads orders
    assert whole.scope == "whole" and whole.tables == []
    assert json.loads((store.root / scoped.id / "manifest.json").read_text())["scope"] == "tables"


def test_rollback_of_a_postgres_index_backs_up_only_the_indexed_table(pg_url: str, tmp_path: Path) -> None:
    # DROP INDEX names no table on PostgreSQL: the scope comes from the catalog, not the whole database.
    seed(pg_url)
    project = make_project(tmp_path / "proj", pg_url)
    run_sql(pg_url, "CREATE TABLE settings (k varchar(50) PRIMARY KEY, v text)")
    write_migration(
        project, "20240101000000", "settings_v", ["CREATE INDEX settings_v ON settings (v)"], ["DROP INDEX settings_v"]
    )
    apply(ApplyRequest(project_dir=project, env="dev"))

    report = rollback(RollbackRequest(project_dir=project, env="dev", approved=True))

    assert report.outcome == "done"
    manifest = store_of(open_project(RollbackRequest(project_dir=project, env="dev"))).get(report.backup_id)
    assert manifest.scope == "tables"
    assert manifest.tables == ["schema_migrations", "schema_migrations_log", "settings"]
    engine = open_engine(pg_url)
    try:
        assert engine.query("SELECT count(*) FROM pg_indexes WHERE indexname = 'settings_v'")[0][0] == 0
    finally:
        engine.close()


def test_dropping_an_unknown_or_other_schema_index_backs_up_everything(pg_url: str, tmp_path: Path) -> None:
    from migration_manager.migrations.formats.common import sql_script
    from migration_manager.service.context import connect
    from migration_manager.service.pre_change_backup import touched_tables

    seed(pg_url)
    project = make_project(tmp_path / "proj", pg_url)
    run_sql(
        pg_url,
        "CREATE SCHEMA other",
        "CREATE TABLE other.t (id integer)",
        "CREATE INDEX t_id ON other.t (id)",
        "CREATE INDEX customers_note ON customers (note)",
    )
    with connect(open_project(ApplyRequest(project_dir=project, env="dev")), lock=False) as conn:

        def scope(sql: str) -> list[str] | None:
            return touched_tables(conn, [sql_script(sql, "postgres")])

        assert scope("DROP INDEX other.t_id") is None
        assert scope("DROP INDEX IF EXISTS nowhere_idx") is None
        assert scope("DROP INDEX t_id") is None  # not in the current schema
        assert scope("DROP INDEX customers_note") is None  # orders has a foreign key into customers


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_a_plan_that_only_creates_and_fills_new_tables_backs_up_only_the_history(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from migration_manager.migrations.formats.common import sql_script
    from migration_manager.service.context import connect
    from migration_manager.service.pre_change_backup import touched_tables

    url = request.getfixturevalue("pg_url" if kind == "postgres" else "mysql_url")
    seed(url)
    project = make_project(tmp_path / "proj", url)
    with connect(open_project(ApplyRequest(project_dir=project, env="dev")), lock=False) as conn:

        def scope(*sql: str) -> list[str] | None:
            return touched_tables(conn, [sql_script(";\n".join(sql) + ";", kind)])

        history = ["schema_migrations", "schema_migrations_log"]
        assert scope(
            "CREATE TABLE fresh (id integer PRIMARY KEY)",
            "INSERT INTO fresh VALUES (1)",
            "CREATE INDEX fresh_id ON fresh (id)",
            "ALTER TABLE fresh RENAME TO fresher",
            "UPDATE fresher SET id = 2",
        ) == sorted([*history, "fresh", "fresher"])
        assert scope("CREATE TABLE fresh (id integer)", "INSERT INTO elsewhere VALUES (1)") is None  # not found
        assert scope("CREATE TABLE fresh (id integer)", "INSERT INTO customers (id) VALUES (9)") is None  # orders' FK


def test_a_table_scoped_backup_keeps_and_restores_tables_whose_names_hold_quotes(pg_url: str, tmp_path: Path) -> None:
    # pg_dump --table takes a pattern: a quote inside a quoted name is doubled there too, or the table is left out.
    project = make_project(tmp_path / "proj", pg_url)
    run_sql(
        pg_url,
        'CREATE TABLE "we""ird" (id integer PRIMARY KEY, label text)',
        """INSERT INTO "we""ird" VALUES (1, 'kept'), (2, 'also kept')""",
    )
    write_migration(
        project,
        "20240101000000",
        "weird_note",
        ['ALTER TABLE "we""ird" ADD COLUMN note text'],
        ['ALTER TABLE "we""ird" DROP COLUMN note'],
    )
    taken = apply(ApplyRequest(project_dir=project, env="dev"))
    run_sql(pg_url, """UPDATE "we""ird" SET label = 'changed', note = 'n'""")

    store = store_of(open_project(ApplyRequest(project_dir=project, env="dev")))
    manifest = store.get(taken.backup_id)
    assert manifest.scope == "tables" and 'we"ird' in manifest.tables
    plan = restore(RestoreRequest(project_dir=project, env="dev", backup_id=taken.backup_id))
    done = restore(
        RestoreRequest(
            project_dir=project, env="dev", backup_id=taken.backup_id, approved=True, approved_plan_id=plan.plan_id
        )
    )

    assert done.outcome == "done"
    engine = open_engine(pg_url)
    try:
        assert engine.query('SELECT * FROM "we""ird" ORDER BY id') == [(1, "kept"), (2, "also kept")]
    finally:
        engine.close()
