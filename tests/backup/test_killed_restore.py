"""A MariaDB restore killed with SIGKILL after its drops, part-way through loading the dump.

MariaDB cannot restore in one transaction: the drops commit, then the dump loads statement by statement.
The restore marks itself in the database before dropping anything; the killed one leaves the mark, so
status says PARTLY RESTORED (not "empty and clean"), apply / rollback / resolve / baseline / test /
backup create refuse, and running the restore again completes it, with the events written since the
backup kept.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import anyio
import pytest
from backup_helpers import fingerprint, make_project, seed, write_migration

from dbcheck import DB_MIGRATE, clean_env, events, history, query, tables, wait_for

MARK = "_mm_restore_in_progress"


def paused_client(folder: Path) -> Path:
    """A `mariadb` first on PATH that loads the dump up to the end of the first table's rows with the real
    client, then says so and waits to be killed: the restore is stopped after its drops, part-way."""
    real = shutil.which("mariadb") or shutil.which("mysql")
    folder.mkdir()
    script = folder / "mariadb"
    script.write_text(
        f"#!/bin/sh\necho $$ > {folder}/pid\nsed '/^UNLOCK TABLES;/q' | {real} \"$@\"\n"
        f"touch {folder}/paused\nexec sleep 600\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def db_migrate(project: Path, *args: str, path: Path | None = None, run=subprocess.run, **kwargs):
    env = clean_env({"PATH": f"{path}{os.pathsep}{os.environ['PATH']}"} if path else None)
    return run([DB_MIGRATE, *args], cwd=project, env=env, **kwargs)


def run_ok(project: Path, *args: str) -> str:
    done = db_migrate(project, *args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.xdist_group("processes")
def test_killed_mariadb_restore_is_partly_restored_until_run_again(mysql_url: str, tmp_path: Path) -> None:
    seed(mysql_url)  # customers, orders (FK), a view, a procedure
    project = make_project(tmp_path / "proj", mysql_url, autoBackup=False)
    write_migration(project, "1", "add_notes", ["CREATE TABLE notes (id integer PRIMARY KEY)"], ["DROP TABLE notes"])
    write_migration(project, "2", "add_tags", ["CREATE TABLE tags (id integer PRIMARY KEY)"], ["DROP TABLE tags"])
    run_ok(project, "apply", "--to", "1", "--yes")
    backup_id = json.loads(run_ok(project, "backup", "create", "--json"))["backups"][0]["id"]
    before = fingerprint(mysql_url)
    run_ok(project, "apply", "--yes")  # after the backup: its event must survive the restore
    query(mysql_url, "DELETE FROM orders WHERE id > 10")

    hooks = paused_client(tmp_path / "bin")
    restore = db_migrate(
        project,
        "restore",
        backup_id,
        "--yes",
        path=hooks,
        run=subprocess.Popen,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (hooks / "paused").exists(), "the restore to stop after the first table's rows")
        restore.send_signal(signal.SIGKILL)
        restore.wait(timeout=30)
    finally:
        os.kill(int((hooks / "pid").read_text()), signal.SIGKILL)

    # Half a database: the first table of the dump is back, the rest (history included) is not.
    assert "customers" in tables(mysql_url) and "schema_migrations" not in tables(mysql_url)
    assert MARK in tables(mysql_url)
    status = json.loads(run_ok(project, "status", "--json"))
    assert status["partly_restored"] is True and status["dirty"] is True and status["in_progress"] is False
    assert f"The restore of backup {backup_id}" in status["dirty_detail"]
    assert "PARTLY RESTORED" in status["dirty_detail"]
    assert status["next_action"].startswith(f"Run `db-migrate restore {backup_id}` again")
    assert status["current_version"] is None and status["pending"] == [] and status["versions_unknown"]
    text = run_ok(project, "status")
    assert "PARTLY RESTORED" in text

    half = tables(mysql_url)
    for command in (
        ["apply", "--yes"],
        ["rollback", "--yes"],
        ["apply", "--dry-run"],
        ["baseline", "--to", "2", "--yes"],
        ["resolve", "1", "--mark-applied", "--yes"],
        ["test"],
        ["backup", "create"],
    ):
        refused = db_migrate(project, *command, "--json", capture_output=True, text=True, timeout=120)
        assert refused.returncode == 12, (command, refused.stdout, refused.stderr)
        error = json.loads(refused.stdout)
        assert error["error"] == "restore_failed" and "did not complete" in error["message"], command
        assert error["state"].startswith("PARTLY RESTORED") and f"db-migrate restore {backup_id}" in error["next_step"]
        assert tables(mysql_url) == half, command

    run_ok(project, "restore", backup_id, "--yes")
    assert MARK not in tables(mysql_url)
    assert fingerprint(mysql_url) == before
    assert {v: row[0] for v, row in history(mysql_url).items()} == {"1": "applied"}
    logged = events(mysql_url)
    assert ("2", "apply", "ok") in logged  # written after the backup, kept across both attempts
    assert logged[-1][1:] == ("restore", "ok")
    status = json.loads(run_ok(project, "status", "--json"))
    assert status["partly_restored"] is False and status["dirty"] is False and status["current_version"] == "1"


def test_status_withholds_the_versions_of_a_half_loaded_history(mysql_url: str, tmp_path: Path) -> None:
    """Killed after the history table was reloaded in part: its rows say 1 is applied and 2 pending, which
    is not the truth (the backup had both). status says the versions are unknown, in JSON, text and MCP."""
    project = make_project(tmp_path / "proj", mysql_url, autoBackup=False)
    write_migration(project, "1", "add_notes", ["CREATE TABLE notes (id integer PRIMARY KEY)"], ["DROP TABLE notes"])
    write_migration(project, "2", "add_tags", ["CREATE TABLE tags (id integer PRIMARY KEY)"], ["DROP TABLE tags"])
    run_ok(project, "apply", "--yes")
    query(mysql_url, "DELETE FROM schema_migrations WHERE version = '2'")  # the part of the dump not loaded
    query(
        mysql_url,
        f"CREATE TABLE {MARK} (backup_id varchar(100), started_at varchar(40), started_by varchar(200), "
        "events longtext)",
    )
    query(mysql_url, f"INSERT INTO {MARK} VALUES ('20260101T000000Z-dev-abcd', '2026-01-01 00:00:00', 'ann', '[]')")

    status = json.loads(run_ok(project, "status", "--json"))
    assert status["partly_restored"] is True
    assert status["current_version"] is None and status["applied"] == [] and status["pending"] == []
    assert "not known until the restore completes" in status["versions_unknown"]
    assert status["rollback_available"] == 0 and status["problems"] == []
    text = run_ok(project, "status")
    assert "Current version unknown (the history table is being restored" in " ".join(text.split())
    assert "Pending" not in text and "add_tags" not in text

    async def mcp_status() -> str:
        from mcp import Client
        from migration_manager.surfaces.mcp.server import build_server

        async with Client(build_server(project)) as client:
            result = await client.call_tool("status", {"env": "dev"})
        return "\n".join(block.text for block in result.content if block.type == "text")

    mcp_text = anyio.run(mcp_status)
    assert "Current version unknown (the history table is being restored" in mcp_text and "add_tags" not in mcp_text
