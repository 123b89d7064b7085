"""`rollback` shows its plan first: per migration, can it roll back (and why not), what its DOWN destroys
counted on the live tables, whether a backup is taken (scope, size), and an estimated time. On SQLite,
PostgreSQL and MariaDB with seeded data; the same plan through the service, --json and the CLI text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rollback_helpers import apply, columns, make_project, query, settings_url, tables, write

from dbcheck import DB_MIGRATE
from migration_manager import service
from migration_manager.dialects import open_engine

PREFS = "drops table user_preferences (3,456 rows)"
PHONE = "drops column users.phone (1,204 non-null values)"


def seeded(project: Path) -> Path:
    """users (2,000 rows, 1,204 phones) and user_preferences (3,456 rows), applied by two migrations."""
    write(project, "1", "users", "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100))", "DROP TABLE users")
    write(
        project,
        "2",
        "prefs",
        [
            "CREATE TABLE user_preferences (id INTEGER PRIMARY KEY, user_id INTEGER, setting VARCHAR(50))",
            "ALTER TABLE users ADD COLUMN phone VARCHAR(30)",
        ],
        ["DROP TABLE user_preferences", "ALTER TABLE users DROP COLUMN phone"],
    )
    apply(project)
    engine = open_engine(settings_url(project))
    try:
        _insert(engine, "users (id, email, phone)", [f"({i}, 'u{i}@example.com', {_phone(i)})" for i in range(1, 2001)])
        _insert(
            engine,
            "user_preferences (id, user_id, setting)",
            [f"({i}, {i % 2000 + 1}, 'theme')" for i in range(1, 3457)],
        )
    finally:
        engine.close()
    return project


def _phone(i: int) -> str:
    return f"'555-{i}'" if i <= 1204 else "NULL"


def _insert(engine, target: str, values: list[str]) -> None:
    for start in range(0, len(values), 500):
        engine.execute(f"INSERT INTO {target} VALUES {', '.join(values[start : start + 500])}")


def rollback(project: Path, **fields) -> service.RunReport:
    return service.rollback(service.RollbackRequest(project_dir=project, env="dev", **fields))


def cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DB_MIGRATE, "--project", str(project), "--env", "dev", "rollback", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plan_counts_what_each_down_destroys_before_anything_runs(project: Path) -> None:
    seeded(project)
    report = rollback(project, dry_run=True, steps=2)
    plan = report.rollback_plan
    assert report.outcome == "dry-run" and plan is not None and not plan.emergency
    newest, oldest = plan.steps
    assert (newest.version, newest.can_roll_back, newest.why) == ("2", True, "DOWN from its file")
    assert [loss.text for loss in newest.destroys] == [PREFS, PHONE]
    assert [(d.kind, d.count, d.exact, d.source) for d in newest.destroys] == [
        ("drop_table", 3456, True, "counted"),
        ("drop_column", 1204, True, "counted"),
    ]
    # users still exists when its own DOWN runs: its rows are counted on the live table.
    assert [loss.text for loss in oldest.destroys] == ["drops table users (2,000 rows)"]
    assert plan.backup.will_back_up and plan.backup.scope in ("whole", "tables") and plan.backup.estimated_bytes > 0
    if plan.backup.scope == "tables":
        assert {"users", "user_preferences"} <= set(plan.backup.tables)
    assert newest.estimated_seconds is not None and newest.estimated_seconds >= 0
    assert plan.estimated_seconds is not None and "estimate" in plan.estimate_note
    assert "user_preferences" in tables(project) and "phone" in columns(project, "users")  # a dry run


def test_cli_text_and_json_show_the_same_plan(project: Path) -> None:
    seeded(project)
    text = cli(project, "--dry-run")
    assert text.returncode == 0, text.stderr
    for line in (
        "Rollback plan",
        "2_prefs  can roll back: yes (DOWN from its file)",
        PREFS,
        PHONE,
        "Backup first: yes",
        "Estimated time:",
        "an estimate, not a promise",
    ):
        assert line in text.stdout, (line, text.stdout)
    data = json.loads(cli(project, "--dry-run", "--json").stdout)
    step = data["rollback_plan"]["steps"][0]
    assert [d["text"] for d in step["destroys"]] == [PREFS, PHONE]
    assert [d["count"] for d in step["destroys"]] == [3456, 1204]
    assert data["rollback_plan"]["backup"]["will_back_up"] is True


def test_plan_shown_then_run_takes_the_backup_it_announced(project: Path) -> None:
    seeded(project)
    report = rollback(project, approved=True)
    assert report.outcome == "done", report.message
    assert report.rollback_plan.backup.will_back_up and report.backup_id
    assert [d.text for d in report.rollback_plan.steps[0].destroys] == [PREFS, PHONE]
    assert "user_preferences" not in tables(project) and "phone" not in columns(project, "users")


def test_missing_down_is_refused_with_every_verdict_and_exit_10(project: Path) -> None:
    seeded(project)
    write(project, "3", "no_way_back", "CREATE TABLE audit (id INTEGER)", None)
    apply(project)
    report = rollback(project, steps=2, approved=True)
    assert report.outcome == "failed" and report.error.error == "rollback_unavailable"
    third, second = report.rollback_plan.steps
    assert not third.can_roll_back and "3_no_way_back has no DOWN script" in third.why
    assert second.can_roll_back and [d.text for d in second.destroys] == [PREFS, PHONE]
    assert "Nothing was rolled back" in report.error.state
    done = cli(project, "--steps", "2")
    assert done.returncode == 10
    assert "can roll back: no (3_no_way_back has no DOWN script" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert {"audit", "user_preferences"} <= tables(project)
    assert [r[0] for r in query(project, "SELECT version FROM schema_migrations ORDER BY version")] == ["1", "2", "3"]


def test_irreversible_marker_and_empty_down_cannot_roll_back(sqlite_project: Path) -> None:
    (sqlite_project / "migrations" / "1_merge.sql").write_text(
        "-- UP\nCREATE TABLE a (id INTEGER);\n-- DOWN\n-- irreversible: the merged rows cannot be split again\n"
    )
    (sqlite_project / "migrations" / "2_empty.sql").write_text("-- UP\nCREATE TABLE b (id INTEGER);\n-- DOWN\n")
    apply(sqlite_project)
    report = rollback(sqlite_project, all=True, dry_run=True)
    verdicts = {s.version: (s.can_roll_back, s.why) for s in report.rollback_plan.steps}
    assert verdicts["1"] == (False, "1_merge is marked irreversible in its DOWN: the merged rows cannot be split again")
    assert verdicts["2"] == (False, "2_empty has no DOWN script (neither in its file nor recorded when it was applied)")
    assert report.outcome == "failed" and {"a", "b"} <= tables(sqlite_project)


def test_down_recorded_in_history_can_roll_back_when_the_file_is_gone(sqlite_project: Path) -> None:
    seeded(sqlite_project)
    (sqlite_project / "migrations" / "2_prefs.sql").unlink()
    step = rollback(sqlite_project, dry_run=True).rollback_plan.steps[0]
    assert step.can_roll_back and step.why == "DOWN from the history (recorded when it was applied)"
    assert [d.text for d in step.destroys] == [PREFS, PHONE]


def test_without_autobackup_or_safety_check_the_plan_still_counts(tmp_path: Path, sqlite_url: str) -> None:
    project = seeded(
        make_project(
            tmp_path / "p",
            sqlite_url,
            autoBackup=False,
            validation={"safetyCheck": False, "performanceAnalysis": False},
        )
    )
    report = rollback(project, dry_run=True)
    plan = report.rollback_plan
    assert not plan.backup.will_back_up and plan.backup.why == "no backup: autoBackup is off"
    assert [d.text for d in plan.steps[0].destroys] == [PREFS, PHONE]  # the drop rules alone, for the plan
    assert report.findings == [] and plan.estimated_seconds is None
    assert "validation.performanceAnalysis is off" in " ".join(plan.notes)


def test_a_table_recreated_earlier_in_the_rollback_is_empty_when_dropped(sqlite_project: Path) -> None:
    write(sqlite_project, "1", "t", "CREATE TABLE t (id INTEGER)", "DROP TABLE t")
    write(sqlite_project, "2", "drop_t", "DROP TABLE t", "CREATE TABLE t (id INTEGER)")
    apply(sqlite_project)
    oldest = rollback(sqlite_project, all=True, dry_run=True).rollback_plan.steps[1]
    assert [d.text for d in oldest.destroys] == ["drops table t (0 rows, created earlier in this rollback)"]
