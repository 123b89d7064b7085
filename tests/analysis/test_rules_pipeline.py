"""Findings where they matter: apply and rollback stop for a human when a finding is dangerous
(nothing changes), `analyze` reports per migration, and the CLI shows it."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, execute, history, query
from migration_manager import service
from migration_manager.errors import MigrationFileError

SEED = {
    "postgres": "CREATE TABLE users (id int PRIMARY KEY, email text, bio text); "
    "INSERT INTO users SELECT g, 'u' || (g % 90), CASE WHEN g % 2 = 0 THEN 'b' END "
    "FROM generate_series(1, 100) g",
    "mysql": "CREATE TABLE users (id int PRIMARY KEY, email varchar(50), bio text); "
    "INSERT INTO users SELECT seq, concat('u', seq % 90), CASE WHEN seq % 2 = 0 THEN 'b' END FROM seq_1_to_100",
}


@pytest.fixture(params=["postgres", "mysql"])
def seeded(request, tmp_path):
    url = request.getfixturevalue({"postgres": "pg_url", "mysql": "mysql_url"}[request.param])
    for statement in SEED[request.param].split("; "):
        execute(url, statement)
    return Project(tmp_path / "project", url)


def _request(project: Project, cls=service.ApplyRequest, **fields):
    return cls(project_dir=project.root, url=project.url, migrations_dir=project.migrations, **fields)


def _unique_indexes(url: str) -> int:
    if url.startswith("mysql"):
        sql = (
            "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
            "AND table_name = 'users' AND non_unique = 0 AND index_name <> 'PRIMARY'"
        )
    else:
        sql = "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'users' AND indexname <> 'users_pkey'"
    return query(url, sql)[0][0]


def test_apply_stops_for_approval_when_a_finding_is_dangerous(seeded):
    seeded.native(
        "1",
        "unique_email",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
        "ALTER TABLE users DROP CONSTRAINT users_email_key;",
    )
    report = service.apply(_request(seeded))
    assert report.outcome == "needs-approval"
    assert any(
        "unique-duplicates" in reason and "10 duplicate key value(s) held by 20 rows" in reason
        for reason in report.approval_reasons
    )
    finding = next(f for f in report.findings if f.rule == "unique-duplicates")
    assert (finding.migration, finding.statement_index, finding.counts["duplicate_rows"]) == ("1", 1, 20)
    assert _unique_indexes(seeded.url) == 0 and not history(seeded.url)


def test_rollback_stops_for_approval_when_the_down_drops_data(seeded):
    seeded.native("1", "add_note", "ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users DROP COLUMN bio;")
    assert service.apply(_request(seeded)).outcome == "done"
    report = service.rollback(_request(seeded, service.RollbackRequest))
    assert report.outcome == "needs-approval"
    finding = next(f for f in report.findings if f.rule == "drop-column")
    assert (finding.direction, finding.counts) == ("down", {"rows": 100, "non_null_values": 50})
    assert query(seeded.url, "SELECT COUNT(bio) FROM users")[0][0] == 50


def test_safe_migration_applies_without_approval(pg_url, tmp_path):
    execute(pg_url, "CREATE TABLE users (id int PRIMARY KEY)")
    project = Project(tmp_path / "p", pg_url)
    project.native("1", "add_age", "ALTER TABLE users ADD COLUMN age int;", "ALTER TABLE users DROP COLUMN age;")
    report = service.apply(_request(project))
    assert (report.outcome, report.findings) == ("done", [])


def test_analyze_reports_statements_and_findings_per_migration(pg_url, tmp_path):
    execute(pg_url, SEED["postgres"].split("; ")[0])
    execute(pg_url, SEED["postgres"].split("; ")[1])
    project = Project(tmp_path / "p", pg_url)
    project.native("1", "add_age", "ALTER TABLE users ADD COLUMN age int;")
    project.native("2", "drop_bio", "ALTER TABLE users DROP COLUMN bio;\nALTER TABLE users ADD COLUMN x int;")
    report = service.analyze(_request(project, service.AnalyzeRequest))
    assert [(m.version, m.mode, [s.operations for s in m.statements]) for m in report.migrations] == [
        ("1", "transaction", [["add_column"]]),
        ("2", "transaction", [["drop_column"], ["add_column"]]),
    ]
    assert [(f.rule, f.severity) for f in report.migrations[1].findings] == [("drop-column", "danger")]
    assert report.summary["danger"] == 1 and report.needs_approval
    only = service.analyze(_request(project, service.AnalyzeRequest, version="1"))
    assert [m.version for m in only.migrations] == ["1"] and not only.needs_approval
    with pytest.raises(MigrationFileError, match="7 is not pending"):
        service.analyze(_request(project, service.AnalyzeRequest, version="7"))


def test_cli_analyze_json_exits_1_on_danger(pg_url, tmp_path):
    for statement in SEED["postgres"].split("; "):
        execute(pg_url, statement)
    seeded = Project(tmp_path / "p", pg_url)
    seeded.native("1", "drop_bio", "ALTER TABLE users DROP COLUMN bio;")
    result = seeded.run("analyze", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    [finding] = [f for f in report["migrations"][0]["findings"] if f["rule"] == "drop-column"]
    assert finding["counts"] == {"rows": 100, "non_null_values": 50}
    text = seeded.run("analyze", "1")
    assert "drop-column" in text.stdout and "50 non-null values" in text.stdout


def test_lock_timeout_switched_off_in_the_settings_is_a_warning(seeded):
    seeded.configure({"ddlLockTimeoutMs": None})
    seeded.native("1", "add_note", "ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users DROP COLUMN note;")
    report = service.analyze(_request(seeded, service.AnalyzeRequest))
    assert [(f.rule, f.statement_index) for f in report.migrations[0].findings] == [("missing-lock-timeout", 1)]
    seeded.configure({})
    assert service.analyze(_request(seeded, service.AnalyzeRequest)).migrations[0].findings == []
