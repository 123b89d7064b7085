"""The offline strategy on the real databases: stop command, backup, apply, live validation, start command,
and what happens when the stop, a migration or the validation fails (the start command always runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbcheck import execute, history, kind, make_project, query, user_tables, write_native
from migration_manager import service
from migration_manager.errors import ApprovalRequired, ConfigError
from migration_manager.service import ApplyRequest
from migration_manager.strategies.offline import offline

STOP = "echo stop >> events.txt"
START = "echo start-$MM_ENV >> events.txt"


def _project(tmp_path: Path, url: str, stop: str = STOP, **settings) -> Path:
    return make_project(tmp_path / "proj", url, offline={"stop": stop, "start": START}, **settings)


def _events(project: Path) -> list[str]:
    path = project / "events.txt"
    return path.read_text().split() if path.exists() else []


def _apply_first(project: Path) -> None:
    """The migration a test starts from, by the plain apply (service.apply would stop and start the application:
    the offline deployment is what the test runs next)."""
    from migration_manager.service.migrate import apply

    assert apply(ApplyRequest(project_dir=project, env="dev", approved=True)).outcome == "done"


def _run(project: Path, **fields):
    return offline(ApplyRequest(project_dir=project, env="dev", **fields))


def test_offline_stops_backs_up_applies_validates_and_starts(any_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, any_url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY, name varchar(40))", None)
    _apply_first(project)
    execute(any_url, "INSERT INTO people VALUES (1, 'ada')")
    write_native(project, "2", "email", "ALTER TABLE people ADD COLUMN email varchar(80)", None)

    report = _run(project)

    assert report.outcome == "done", report.message
    assert _events(project) == ["stop", "start-dev"]
    assert [s.name.split(":")[0] for s in report.steps] == [
        "offline.stop",
        "snapshot",
        "back up and apply",
        "validate on the live database",
        "offline.start",
    ]
    assert all(c.ok for c in report.checks) and report.checks[0].name == "schema as expected"
    assert report.apply.backup_id and report.downtime_ms is not None
    assert history(any_url)["2"][0] == "applied"
    assert query(any_url, "SELECT id, name, email FROM people") == [(1, "ada", None)]
    assert "Downtime" in report.message


def test_a_failing_migration_is_undone_and_the_application_started(any_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, any_url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", "DROP TABLE people")
    duplicate = ["CREATE TABLE pets (id integer)", "INSERT INTO people VALUES (1)", "INSERT INTO people VALUES (1)"]
    write_native(project, "2", "duplicate", duplicate, None)  # passes validation, fails on the server

    report = _run(project, approved=True)

    assert report.outcome == "failed"
    assert _events(project) == ["stop", "start-dev"]  # started again after the failure
    assert report.apply.outcome == "failed" and report.recovery.startswith("apply: ")
    assert "pets" not in user_tables(any_url) and "people" not in user_tables(any_url)
    assert report.error and report.downtime_ms is not None


def test_a_failing_stop_migrates_nothing_and_still_runs_start(any_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, any_url, stop="echo cannot reach the app >&2; exit 3")
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)

    report = _run(project)

    assert report.outcome == "failed"
    assert _events(project) == ["start-dev"]
    assert report.steps[0].ok is False and "exit code 3: cannot reach the app" in report.steps[0].detail
    assert "people" not in user_tables(any_url)
    assert "offline.stop failed: nothing was migrated" in report.message


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "mysql_url"])
def test_a_failed_validation_rolls_the_migration_back(url_fixture: str, tmp_path: Path, request) -> None:
    """A trigger changes a table the migration never names: the untouched-table check fails, the DOWN runs."""
    url = request.getfixturevalue(url_fixture)
    project = _project(tmp_path, url)
    write_native(
        project, "1", "tables", ["CREATE TABLE a (id integer PRIMARY KEY)", "CREATE TABLE b (id integer)"], None
    )
    _apply_first(project)
    body = (
        "BEGIN INSERT INTO b VALUES (new.id); END"
        if kind(url) == "sqlite"
        else "FOR EACH ROW INSERT INTO b VALUES (NEW.id)"
    )
    execute(url, f"CREATE TRIGGER copy_a AFTER INSERT ON a {body}")
    write_native(project, "2", "seed", "INSERT INTO a VALUES (7)", "DELETE FROM a WHERE id = 7")

    report = _run(project)

    assert report.outcome == "failed"
    assert [c.name for c in report.checks if not c.ok] == ["row counts of untouched tables preserved"]
    assert report.recovery == "down-scripts: rolled back 1 migration(s)"
    assert "2" not in history(url) and query(url, "SELECT count(*) FROM a") == [(0,)]
    assert _events(project) == ["stop", "start-dev"]


def test_offline_refuses_outside_the_window_and_without_commands(sqlite_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, sqlite_url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url"', '"maintenanceWindow": "00:00-00:00 UTC", "url"'))
    with pytest.raises(ApprovalRequired, match="only inside its maintenance window"):
        _run(project)
    assert _events(project) == []
    assert _run(project, outside_window=True).outcome == "done"

    bare = make_project(tmp_path / "bare", sqlite_url)
    with pytest.raises(ConfigError, match="offline.stop and offline.start"):
        _run(bare)


def test_offline_dry_run_and_approval_stop_before_the_stop_command(sqlite_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, sqlite_url)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url"', '"requireApproval": true, "url"'))
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)

    assert _run(project, dry_run=True).outcome == "dry-run"
    asked = _run(project)
    assert asked.outcome == "needs-approval" and asked.plan_id
    assert _events(project) == []
    assert _run(project, approved=True, approved_plan_id=asked.plan_id).outcome == "done"
    assert _events(project) == ["stop", "start-dev"]


def test_apply_runs_the_offline_deployment_where_its_commands_are_configured(sqlite_url: str, tmp_path: Path) -> None:
    from migration_manager.reports import RunReport
    from migration_manager.strategies.deployment import apply_with_strategy

    project = _project(tmp_path, sqlite_url, strategy="offline")
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    assert apply_with_strategy(ApplyRequest(project_dir=project, env="dev")).action == "offline"
    assert _events(project) == ["stop", "start-dev"]

    plain = make_project(tmp_path / "plain", f"{sqlite_url}.plain", strategy="offline")  # no commands: plain apply
    write_native(plain, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    assert isinstance(apply_with_strategy(ApplyRequest(project_dir=plain, env="dev", approved=True)), RunReport)
    with pytest.raises(ConfigError, match="offline.stop and offline.start"):
        apply_with_strategy(ApplyRequest(project_dir=plain, env="dev", strategy="offline"))
    with pytest.raises(ConfigError, match="needs a replication module for sqlite"):
        apply_with_strategy(ApplyRequest(project_dir=plain, env="dev", strategy="blue-green"))

    write_native(project, "2", "pets", "CREATE TABLE pets (id integer PRIMARY KEY)", None)
    via_service = service.apply(ApplyRequest(project_dir=project, env="dev"))  # the same deployment, as a RunReport
    assert via_service.outcome == "done" and "Downtime" in via_service.message, via_service.message
    assert _events(project) == ["stop", "start-dev", "stop", "start-dev"]
    with pytest.raises(ConfigError, match="offline.stop and offline.start"):
        service.apply(ApplyRequest(project_dir=plain, env="dev", strategy="offline"))


def test_db_migrate_apply_runs_the_offline_deployment(sqlite_url: str, tmp_path: Path, capsys) -> None:
    import json

    from migration_manager.surfaces.cli.app import main

    project = _project(tmp_path, sqlite_url, strategy="offline")
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    assert main(["--project", str(project), "--env", "dev", "--json", "apply"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["action"] == "offline" and report["outcome"] == "done" and report["downtime_ms"] is not None
    assert _events(project) == ["stop", "start-dev"]


def test_the_terminal_shows_the_offline_steps_and_the_downtime(sqlite_url: str, tmp_path: Path, capsys) -> None:
    from migration_manager.surfaces.cli.app import main

    project = _project(tmp_path, sqlite_url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    assert main(["--project", str(project), "--env", "dev", "apply", "--strategy", "offline"]) == 0
    shown = capsys.readouterr().out
    assert "offline.stop: echo stop" in shown and "schema as expected" in shown and "Downtime" in shown


def test_with_autobackup_off_offline_backs_up_and_restores_a_half_applied_migration(
    mysql_url: str, tmp_path: Path
) -> None:
    project = _project(tmp_path, mysql_url, autoBackup=False)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    _apply_first(project)
    execute(mysql_url, "INSERT INTO people VALUES (1)")
    # MariaDB commits the CREATE TABLE before the INSERT fails: only a backup takes it back
    write_native(project, "2", "half", ["CREATE TABLE pets (id integer)", "INSERT INTO people VALUES (1)"], None)

    report = _run(project)

    assert report.outcome == "failed"
    assert any(s.name.startswith("back up (autoBackup is off") for s in report.steps)
    assert report.recovery.startswith("backup-restore: ")
    assert "pets" not in user_tables(mysql_url) and query(mysql_url, "SELECT id FROM people") == [(1,)]
    assert _events(project) == ["stop", "start-dev"]


@pytest.mark.anyio
async def test_the_mcp_apply_tool_runs_the_offline_deployment(sqlite_url: str, tmp_path: Path) -> None:
    from mcp import Client
    from migration_manager.surfaces.mcp.server import build_server

    project = _project(tmp_path, sqlite_url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    async with Client(build_server(project)) as client:
        result = await client.call_tool("apply", {"env": "dev", "strategy": "offline"})
    assert not result.is_error and result.structured_content["outcome"] == "done"
    assert "Downtime" in result.structured_content["message"]
    assert _events(project) == ["stop", "start-dev"]
