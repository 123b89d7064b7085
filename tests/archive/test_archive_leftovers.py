"""Archive tables left behind (a migration never rolled back) confuse nothing, and prune removes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from archive_helpers import apply, archive_tables, events, query, write

from dbcheck import Project
from migration_manager import service
from migration_manager.errors import ApprovalRequired


def with_leftover_archive(project: Path) -> str:
    write(
        project,
        "20240101000000",
        "people",
        [
            "CREATE TABLE people (id INTEGER PRIMARY KEY, bio VARCHAR(50))",
            "INSERT INTO people VALUES (1, 'a'), (2, 'b')",
        ],
        "DROP TABLE people",
    )
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(50)",
    )
    apply(project)
    (archive,) = archive_tables(project)
    return archive


def test_leftover_archive_is_not_part_of_the_schema_seen_by_validate_status_and_test(project: Path) -> None:
    with_leftover_archive(project)
    write(
        project,
        "20240103000000",
        "add_nick",
        "ALTER TABLE people ADD COLUMN nick VARCHAR(20)",
        "ALTER TABLE people DROP COLUMN nick",
    )

    status = service.status(service.TargetRequest(project_dir=project, env="dev"))
    validate = service.validate(service.TargetRequest(project_dir=project, env="dev"))
    rehearsal = service.test(service.TestRequest(project_dir=project, env="dev"))

    assert status.current_version == "20240102000000" and not status.problems
    assert validate.ok, validate.checks
    assert rehearsal.outcome == "passed", rehearsal.message
    assert "_mm_archive" not in json.dumps(rehearsal.model_dump(mode="json"))


def test_backup_prune_drops_archives_older_than_keep_backups(project: Path) -> None:
    archive = with_leftover_archive(project)
    kept = service.backup(service.BackupRequest(project_dir=project, env="dev", action="prune"))
    assert kept.archives_dropped == [] and archive_tables(project) == {archive}

    settings = project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    config["skills"]["migration-manager"]["rollback"] = {"keepBackups": 0}
    settings.write_text(json.dumps(config))
    pruned = service.backup(service.BackupRequest(project_dir=project, env="dev", action="prune"))

    assert [s.archive_table for s in pruned.archives_dropped] == [archive]
    assert "Dropped 1 archive table(s)" in pruned.message
    assert archive_tables(project) == set()
    assert [e["action"] for e in events(project)] == ["archive", "archive-dropped"]
    assert query(project, "SELECT COUNT(*) FROM people") == [(2,)]  # the user's table is untouched


def configure(project: Path, **environment) -> None:
    """Archives expire at once (keepBackups 0); `environment` adds to the dev environment."""
    settings = project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    skill = config["skills"]["migration-manager"]
    skill["rollback"] = {"keepBackups": 0}
    skill["environments"]["dev"].update(environment)
    settings.write_text(json.dumps(config))


def closed_window() -> str:
    opens = datetime.now(UTC) + timedelta(hours=12)  # a one-minute window, half a day away
    return f"{opens:%H:%M}-{opens + timedelta(minutes=1):%H:%M} UTC"


def test_prune_waits_for_the_maintenance_window(project: Path) -> None:
    archive = with_leftover_archive(project)
    configure(project, maintenanceWindow=closed_window())
    request = service.BackupRequest(project_dir=project, env="dev", action="prune")
    with pytest.raises(ApprovalRequired) as refused:
        service.backup(request)
    assert "only changes inside its maintenance window" in refused.value.message
    assert refused.value.state == "Nothing was changed."
    assert archive_tables(project) == {archive} and events(project, "archive-dropped") == []

    pruned = service.backup(request.model_copy(update={"outside_window": True}))
    assert [s.archive_table for s in pruned.archives_dropped] == [archive]
    assert archive_tables(project) == set() and len(events(project, "archive-dropped")) == 1


def test_prune_on_a_require_approval_environment_deletes_nothing_until_approved(project: Path, tmp_path: Path) -> None:
    archive = with_leftover_archive(project)
    configure(project, requireApproval=True)
    expired = service.backup(service.BackupRequest(project_dir=project, env="dev", action="create")).backups[0]
    request = service.BackupRequest(project_dir=project, env="dev", action="prune")
    asked = service.backup(request)
    assert asked.outcome == "needs-approval" and asked.needs_approval and asked.plan_id
    assert asked.approval_reasons == ["environment 'dev' requires approval (requireApproval)"]
    assert asked.backups == [] and asked.archives_dropped == []
    assert archive_tables(project) == {archive} and events(project, "archive-dropped") == []
    assert (project / ".migration-manager" / "backups" / expired.id).exists()

    wrong_plan = service.backup(request.model_copy(update={"approved": True, "approved_plan_id": "0" * 16}))
    assert wrong_plan.outcome == "needs-approval" and archive_tables(project) == {archive}
    done = service.backup(request.model_copy(update={"approved": True, "approved_plan_id": asked.plan_id}))
    assert done.outcome == "done" and [m.id for m in done.backups] == [expired.id]
    assert archive_tables(project) == set() and len(events(project, "archive-dropped")) == 1


def test_cli_prune_asks_and_names_the_override(sqlite_project: Path) -> None:
    archive = with_leftover_archive(sqlite_project)
    configure(sqlite_project, requireApproval=True)
    cli = Project(sqlite_project)
    asked = cli.run("--env", "dev", "backup", "prune", "--json")
    assert asked.returncode != 0 and json.loads(asked.stdout)["outcome"] == "needs-approval"
    assert archive_tables(sqlite_project) == {archive}

    configure(sqlite_project, requireApproval=False, maintenanceWindow=closed_window())
    refused = cli.run("--env", "dev", "backup", "prune", "--json")
    assert refused.returncode != 0 and "--outside-window" in json.loads(refused.stdout)["next_step"]
    assert archive_tables(sqlite_project) == {archive}
    done = cli.run("--env", "dev", "backup", "prune", "--outside-window")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Dropped 1 archive table(s)" in done.stdout and archive_tables(sqlite_project) == set()
