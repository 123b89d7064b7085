"""Retention (rollback.keepBackups), what a manifest records, and that no password reaches it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from backup_helpers import make_project, run_sql

from migration_manager.backup.store import BackupStore
from migration_manager.dialects.mysql.backup import connection_args
from migration_manager.dialects.mysql.backup import password_env as mysql_password_env
from migration_manager.dialects.postgres.backup import conninfo
from migration_manager.dialects.postgres.backup import password_env as pg_password_env
from migration_manager.service import BackupRequest, backup
from migration_manager.urls import parse_url


def _create(project: Path) -> str:
    return backup(BackupRequest(project_dir=project, env="dev", action="create")).backups[0].id


def test_prune_deletes_only_backups_past_keep_backups_days(sqlite_url: str, tmp_path: Path) -> None:
    run_sql(sqlite_url, "CREATE TABLE t (id integer)")
    project = make_project(tmp_path / "proj", sqlite_url, rollback={"keepBackups": 0})
    expired = _create(project)
    make_project(tmp_path / "proj", sqlite_url, rollback={"keepBackups": 7})
    kept = _create(project)

    pruned = backup(BackupRequest(project_dir=project, env="dev", action="prune"))

    assert [m.id for m in pruned.backups] == [expired]
    assert "keepBackups = 7" in pruned.message
    assert [m.id for m in backup(BackupRequest(project_dir=project, env="dev")).backups] == [kept]
    assert not (project / ".migration-manager" / "backups" / expired).exists()
    store = BackupStore(project / ".migration-manager" / "backups")
    survivor = store.get(kept)
    assert store.prune(now=survivor.expires_at - timedelta(seconds=1)) == []
    assert [m.id for m in store.prune(now=survivor.expires_at)] == [kept]


def test_a_backup_folder_without_a_valid_manifest_is_not_listed(sqlite_url: str, tmp_path: Path) -> None:
    run_sql(sqlite_url, "CREATE TABLE t (id integer)")
    project = make_project(tmp_path / "proj", sqlite_url)
    good = _create(project)
    half = project / ".migration-manager" / "backups" / "20200101T000000Z-dev-dead"
    half.mkdir()
    (half / "manifest.json").write_text("{ killed while writing")
    assert [m.id for m in backup(BackupRequest(project_dir=project, env="dev")).backups] == [good]


def test_manifest_records_tool_command_and_scope_without_the_password(pg_url: str, tmp_path: Path) -> None:
    # The server trusts local connections, so a password in the URL is accepted and must never be written down.
    with_password = pg_url.replace("postgres@", "postgres:S3cret-Pw@")
    run_sql(pg_url, "CREATE TABLE t (id integer)")
    project = make_project(tmp_path / "proj", with_password)

    manifest = backup(BackupRequest(project_dir=project, env="dev", action="create")).backups[0]

    text = (project / ".migration-manager" / "backups" / manifest.id / "manifest.json").read_text()
    assert "S3cret-Pw" not in text
    data = json.loads(text)
    assert data["tool"].startswith("pg_dump (PostgreSQL)") and data["command"].startswith("pg_dump -Fc -f ")
    assert data["database"] == with_password.replace("S3cret-Pw", "***")
    assert data["scope"] == "whole" and data["format"] == "custom" and data["server_version"].startswith("PostgreSQL")


def test_client_tools_get_the_password_from_the_environment_only() -> None:
    pg = parse_url("postgresql://app:pa55@db.example.com:6432/shop?sslmode=require&password=pa55")
    assert pg_password_env(pg) == {"PGPASSWORD": "pa55"}
    assert conninfo(pg) == "postgresql://app@db.example.com:6432/shop?sslmode=require"
    my = parse_url("mysql://app:pa55@db.example.com:3307/shop")
    assert mysql_password_env(my) == {"MYSQL_PWD": "pa55"}
    assert not [a for a in connection_args(my) if "pa55" in a] and "--port=3307" in connection_args(my)
