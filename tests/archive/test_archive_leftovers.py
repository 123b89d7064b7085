"""Archive tables left behind (a migration never rolled back) confuse nothing, and prune removes them."""

from __future__ import annotations

import json
from pathlib import Path

from archive_helpers import apply, archive_tables, events, query, write

from migration_manager import service


def with_leftover_archive(project: Path) -> str:
    write(project, "20240101000000", "people", ["CREATE TABLE people (id INTEGER PRIMARY KEY, bio VARCHAR(50))",
                                                "INSERT INTO people VALUES (1, 'a'), (2, 'b')"], "DROP TABLE people")
    write(project, "20240102000000", "drop_bio", "ALTER TABLE people DROP COLUMN bio",
          "ALTER TABLE people ADD COLUMN bio VARCHAR(50)")
    apply(project)
    (archive,) = archive_tables(project)
    return archive


def test_leftover_archive_is_not_part_of_the_schema_seen_by_validate_status_and_test(project: Path) -> None:
    with_leftover_archive(project)
    write(project, "20240103000000", "add_nick", "ALTER TABLE people ADD COLUMN nick VARCHAR(20)",
          "ALTER TABLE people DROP COLUMN nick")

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
