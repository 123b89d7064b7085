"""apply starts its backup's dump with the plan and runs the checks meanwhile: a plan that stops before its first
statement kills the dump and leaves no backup folder; a dump that fails or cannot start stops the run as before."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from backup_helpers import fingerprint, history_rows, make_project, run_sql, write_migration

from migration_manager.backup.tools import StartedDump
from migration_manager.errors import BackupFailed
from migration_manager.service import ApplyRequest, BackupRequest, apply, backup

DUMP_TOOL = {"postgres": "pg_dump", "mysql": "mariadb-dump"}
CREATE_T = (["CREATE TABLE t (id integer PRIMARY KEY)"], ["DROP TABLE t"])
REFUSED = (["ALTER TABLE nowhere ADD COLUMN x integer"], None)  # the schema replay's error: no such table


@pytest.fixture(params=["postgres", "mysql"])
def tool_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A database whose backup is a client tool's dump (SQLite's is not), and the tool's name."""
    return DUMP_TOOL[request.param], request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[StartedDump]:
    """Every dump apply starts, to ask afterwards whether its process still runs."""
    seen: list[StartedDump] = []

    class Recorded(StartedDump):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr("migration_manager.service.pre_change_backup.StartedDump", Recorded)
    return seen


def fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> None:
    """`name` first on PATH: the backup's dump runs `body` (a shell command); any other call (--version, the
    schema-only copy the checks make) goes to the real tool."""
    folder = tmp_path / "fake-bin"
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(
        f'#!/bin/sh\ncase "$*" in *.migration-manager/backups*) {body};; *) exec {shutil.which(name)} "$@";; esac\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def backup_folders(project: Path) -> list[Path]:
    root = project / ".migration-manager" / "backups"
    return list(root.iterdir()) if root.exists() else []


def killed(dump: StartedDump) -> bool:
    """Stopped by us (not run to its end) and reaped: no dump process is left behind."""
    return dump._dump.returncode == -signal.SIGKILL


def test_a_plan_refused_for_an_error_kills_the_running_dump_and_leaves_no_backup(
    tool_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[StartedDump]
) -> None:
    tool, url = tool_url
    project = make_project(tmp_path / "proj", url)
    write_migration(project, "20240101000000", "broken", *REFUSED)
    fake_tool(tmp_path, monkeypatch, tool, "exec sleep 60")  # a dump still running when the checks end

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.outcome == "failed" and report.error.error == "validation_failed"
    assert report.backup_id is None
    assert len(started) == 1 and killed(started[0])
    assert backup_folders(project) == []


def test_an_exception_in_the_checks_kills_the_running_dump_and_leaves_no_backup(
    tool_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[StartedDump]
) -> None:
    tool, url = tool_url
    project = make_project(tmp_path / "proj", url)
    write_migration(project, "20240101000000", "create_t", *CREATE_T)
    fake_tool(tmp_path, monkeypatch, tool, "exec sleep 60")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the rules run

    monkeypatch.setattr("migration_manager.service.migrate.findings_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply(ApplyRequest(project_dir=project, env="dev"))

    assert len(started) == 1 and killed(started[0])
    assert backup_folders(project) == []
    assert history_rows(url) == []


def test_a_plan_that_stops_for_approval_leaves_no_backup_until_approved(
    any_url: str, tmp_path: Path, started: list[StartedDump]
) -> None:
    project = make_project(tmp_path / "proj", any_url)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url": ', '"requireApproval": true, "url": '))
    write_migration(project, "20240101000000", "create_t", *CREATE_T)

    asked = apply(ApplyRequest(project_dir=project, env="dev"))

    assert asked.outcome == "needs-approval" and asked.backup_id is None
    assert backup_folders(project) == []
    assert started == []  # requireApproval stops this plan whatever the checks find: no dump to start and kill
    done = apply(ApplyRequest(project_dir=project, env="dev", approved=True, approved_plan_id=asked.plan_id))
    assert done.outcome == "done" and done.backup_id
    assert len(started) == (0 if any_url.startswith("sqlite") else 1)  # the approved run's dump, beside its checks
    listed = backup(BackupRequest(project_dir=project, env="dev", action="list")).backups
    assert [m.id for m in listed] == [done.backup_id]


def test_a_failing_dump_tool_stops_the_run_with_its_message_and_changes_nothing(
    tool_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool, url = tool_url
    project = make_project(tmp_path / "proj", url)
    run_sql(url, "CREATE TABLE keep (id integer)")
    write_migration(project, "20240101000000", "create_t", *CREATE_T)
    fake_tool(tmp_path, monkeypatch, tool, f'echo "{tool}: error: connection to server lost" >&2; exit 1')
    before = fingerprint(url, user_tables_only=True)

    with pytest.raises(BackupFailed) as refused:
        apply(ApplyRequest(project_dir=project, env="dev"))

    assert (
        refused.value.message == f"Could not back up the database with {tool}: {tool}: error: connection to server lost"
    )
    assert refused.value.state == "Nothing was changed."
    assert fingerprint(url, user_tables_only=True) == before and history_rows(url) == []
    assert backup_folders(project) == []


def test_a_backup_that_cannot_start_does_not_hide_the_errors_the_checks_find(
    tool_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = tool_url
    project = make_project(tmp_path / "proj", url)
    write_migration(project, "20240101000000", "broken", *REFUSED)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no dump tool: the backup cannot start

    report = apply(ApplyRequest(project_dir=project, env="dev"))

    assert report.outcome == "failed" and report.error.error == "validation_failed"
    assert backup_folders(project) == []


def test_a_backup_not_started_beside_the_checks_is_taken_before_the_first_statement(
    tool_url: tuple[str, str], tmp_path: Path, started: list[StartedDump]
) -> None:
    """finish() never lets a change start without its backup, whatever start said."""
    from migration_manager.service.context import connect, open_project
    from migration_manager.service.pre_change_backup import backup_beside_checks

    _, url = tool_url
    project_dir = make_project(tmp_path / "proj", url)
    write_migration(project_dir, "20240101000000", "create_t", *CREATE_T)
    project = open_project(ApplyRequest(project_dir=project_dir, env="dev"))
    migrations = project.read_migrations()
    report = SimpleNamespace(action="apply", version_before=None, version_after="20240101000000", backup_id=None)
    with connect(project, lock=True) as conn:
        with backup_beside_checks(conn, [m.up for m in migrations], start=False) as pre_change:
            assert started == [] and backup_folders(project_dir) == []
            manifest = pre_change.finish(report, None)
    assert manifest is not None and report.backup_id == manifest.id and len(started) == 1
    assert [folder.name for folder in backup_folders(project_dir)] == [manifest.id]


def test_a_large_database_is_dumped_after_the_gate_not_beside_the_checks(
    tool_url: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[StartedDump]
) -> None:
    """Over BESIDE_CHECKS_MAX_BYTES (here: any size) no dump runs while the checks run; the backup is taken before
    the first statement all the same, and a plan refused by the checks started none."""
    from migration_manager.service import migrate, pre_change_backup

    _, url = tool_url
    monkeypatch.setattr(pre_change_backup, "BESIDE_CHECKS_MAX_BYTES", 0)
    project = make_project(tmp_path / "proj", url)
    write_migration(project, "20240101000000", "broken", *REFUSED)
    refused = apply(ApplyRequest(project_dir=project, env="dev"))
    assert refused.outcome == "failed" and started == [] and backup_folders(project) == []

    (project / "migrations" / "20240101000000_broken.sql").unlink()
    write_migration(project, "20240101000001", "create_t", *CREATE_T)
    dumps_during_the_rules: list[int] = []
    rules = migrate.findings_for

    def counted_rules(*args, **kwargs):
        dumps_during_the_rules.append(len(started))
        return rules(*args, **kwargs)

    monkeypatch.setattr(migrate, "findings_for", counted_rules)
    done = apply(ApplyRequest(project_dir=project, env="dev"))
    assert done.outcome == "done" and done.backup_id and dumps_during_the_rules == [0] and len(started) == 1
    assert [folder.name for folder in backup_folders(project)] == [done.backup_id]
