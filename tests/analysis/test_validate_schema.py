"""Schema-aware validation through the use cases: `validate` reports it, `apply` refuses errors
before anything runs, out-of-order migrations that touch the same objects are conflicts."""

from __future__ import annotations

from pathlib import Path

from dbcheck import make_project
from migration_manager.dialects import open_engine
from migration_manager.service import ApplyRequest, TargetRequest, apply, validate

SETUP = ["CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL)"]


def _project(root: Path, url: str, **settings) -> Path:
    make_project(root, url, **settings)
    engine = open_engine(url)
    for statement in SETUP:
        engine.execute(statement)
    engine.close()
    return root


def _write(project: Path, version: str, up: str, down: str | None = None) -> None:
    text = f"-- UP\n{up}\n" + (f"-- DOWN\n{down}\n" if down else "")
    (project / "migrations" / f"{version}_m.sql").write_text(text)


def _tables(url: str) -> list[str]:
    engine = open_engine(url)
    try:
        return engine.tables()
    finally:
        engine.close()


def test_validate_reports_a_missing_table_and_apply_refuses_before_running_anything(any_url, tmp_path):
    project = _project(tmp_path / "p", any_url)
    _write(
        project, "1", "CREATE TABLE audit (id integer);\nALTER TABLE nope ADD COLUMN x integer;", "DROP TABLE audit;"
    )

    report = validate(TargetRequest(project_dir=project, env="dev"))
    check = next(c for c in report.checks if c.name == "schema-aware simulation")
    assert not report.ok and not check.ok and "1 error(s)" in check.detail
    assert [(f.rule, f.migration, f.statement_index) for f in report.findings if f.severity == "error"] == [
        ("schema-missing-table", "1", 2)
    ]

    result = apply(ApplyRequest(project_dir=project, env="dev"))
    assert result.outcome == "failed" and "Validation found 1 error(s)" in result.message
    assert "nope does not exist" in result.error.message
    assert "audit" not in _tables(any_url) and "schema_migrations" in _tables(any_url)


def test_good_migration_validates_clean_and_history_tables_are_not_part_of_the_schema(pg_url, tmp_path):
    project = _project(tmp_path / "p", pg_url)
    _write(project, "1", "ALTER TABLE users ADD COLUMN phone varchar(20);", "ALTER TABLE users DROP COLUMN phone;")
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"
    _write(
        project,
        "2",
        "CREATE TABLE audit (id integer PRIMARY KEY, user_id integer REFERENCES users (id));",
        "DROP TABLE audit;",
    )

    report = validate(TargetRequest(project_dir=project, env="dev"))
    assert report.ok, report
    assert report.findings == []
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"


def test_out_of_order_migration_touching_the_same_column_is_a_conflict(pg_url, tmp_path):
    project = _project(tmp_path / "p", pg_url)
    _write(
        project, "20240102", "ALTER TABLE users ADD COLUMN phone varchar(20);", "ALTER TABLE users DROP COLUMN phone;"
    )
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"
    # Written on another branch, merged after 20240102 ran: same column, older version.
    _write(project, "20240101", "ALTER TABLE users ALTER COLUMN phone TYPE varchar(40);")
    _write(project, "20240100", "CREATE INDEX users_email ON users (email);")  # out of order, no overlap

    report = validate(TargetRequest(project_dir=project, env="dev"))
    conflicts = [f for f in report.findings if f.rule == "migration-conflict"]
    assert [(f.migration, f.severity) for f in conflicts] == [("20240101", "danger")]
    assert "users.column phone" in conflicts[0].message and "20240102_m (applied)" in conflicts[0].message


def test_precheck_off_lets_the_server_find_the_error(pg_url, tmp_path):
    project = _project(tmp_path / "p", pg_url, validation={"preCheck": False})
    _write(project, "1", "ALTER TABLE nope ADD COLUMN x integer;")

    report = validate(TargetRequest(project_dir=project, env="dev"))
    check = next(c for c in report.checks if c.name == "schema-aware simulation")
    assert check.ok and "off" in check.detail
    result = apply(ApplyRequest(project_dir=project, env="dev"))
    assert result.outcome == "failed" and "Validation" not in result.message
