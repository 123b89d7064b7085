"""`db-migrate backup list|create|prune` and `db-migrate restore`: JSON output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backup_helpers import make_project, run_sql

from migration_manager.surfaces.cli.app import main


def _cli(capsys: pytest.CaptureFixture, project: Path, *args: str) -> tuple[int, dict]:
    code = main(["--project", str(project), "--env", "dev", "--json", *args])
    out, decoder, last = capsys.readouterr().out, json.JSONDecoder(), {}
    position = out.find("{")
    while position != -1:  # with --yes the plan is printed before the result: keep the last report
        last, end = decoder.raw_decode(out, position)
        position = out.find("{", end)
    return code, last


def test_backup_and_restore_from_the_command_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_sql(sqlite_url, "CREATE TABLE t (id integer)", "INSERT INTO t VALUES (1)")
    project = make_project(tmp_path / "proj", sqlite_url)
    code, created = _cli(capsys, project, "backup", "create")
    assert code == 0 and created["action"] == "create"
    backup_id = created["backups"][0]["id"]
    run_sql(sqlite_url, "DELETE FROM t")

    code, listed = _cli(capsys, project, "backup", "list")
    assert code == 0 and [m["id"] for m in listed["backups"]] == [backup_id]
    code, refused = _cli(capsys, project, "restore", "--latest")  # no terminal to ask on, no --yes
    assert code == 8 and refused["outcome"] == "needs-approval"
    code, done = _cli(capsys, project, "restore", backup_id, "--yes")
    assert code == 0 and done["outcome"] == "done" and done["backup"]["id"] == backup_id

    from migration_manager.dialects import open_engine

    engine = open_engine(sqlite_url)
    assert engine.query("SELECT id FROM t") == [(1,)]
    engine.close()


def test_restore_errors_carry_their_exit_codes(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = make_project(tmp_path / "proj", sqlite_url)
    code, error = _cli(capsys, project, "restore", "20200101T000000Z-dev-0000", "--yes")
    assert code == 12 and error["error"] == "restore_failed" and "No backup" in error["message"]
    code, error = _cli(capsys, project, "restore", "--timestamp", "2026-01-15 09:30:00")
    assert code == 12 and "keeps no change log" in error["message"]
