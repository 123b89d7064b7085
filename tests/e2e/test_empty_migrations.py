"""An UP (and DOWN) without statements, empty or comments only, is a migration (issue 11): validate,
apply, status and rollback record it and say it runs nothing, on each database."""

from __future__ import annotations

import json

import pytest

from dbcheck import events, history

pytestmark = pytest.mark.parametrize("any_url", ["sqlite", "postgres", "mysql"], indirect=True)


def test_empty_migration_is_applied_recorded_and_rolled_back(project, any_url):
    project.write("1_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n")
    project.write("1_a.down.sql", "DROP TABLE a;\n")
    project.write("2_only_for_mysql.up.sql", "-- this change is only needed on MySQL\n")
    project.write("2_only_for_mysql.down.sql", "")
    project.write("3_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n")
    project.write("3_b.down.sql", "DROP TABLE b;\n")

    validated = project.run("validate", url=any_url)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "without statements (recorded, nothing runs): 2_only_for_mysql" in validated.stdout

    applied = project.run("--yes", "apply", url=any_url)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "2_only_for_mysql" in applied.stdout and "no statements: recorded, nothing runs" in applied.stdout
    rows = history(any_url)
    assert set(rows) == {"1", "2", "3"} and rows["2"][0] == "applied"
    assert rows["2"][3].startswith("v1:") and rows["2"][3] != rows["1"][3]

    status = project.run("--json", "status", url=any_url)
    assert status.returncode == 0, status.stdout + status.stderr
    assert {m["version"]: m["no_statements"] for m in json.loads(status.stdout)["applied"]} == {
        "1": False,
        "2": True,
        "3": False,
    }

    rolled = project.run("--yes", "rollback", "--steps", "2", url=any_url)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert set(history(any_url)) == {"1"}
    assert [e[:2] for e in events(any_url) if e[1] == "rollback"] == [("3", "rollback"), ("2", "rollback")]


def test_validate_replays_versions_in_number_order(project, any_url):
    """2_ runs before 10_ (as apply runs them), not in file-name order: no false "table does not exist"."""
    if not any_url.startswith("sqlite"):
        pytest.skip("the order is the same on every database")
    project.write("2_create.up.sql", "CREATE TABLE subs (id int PRIMARY KEY);\n")
    project.write("10_alter.up.sql", "ALTER TABLE subs ADD COLUMN n int;\n")
    validated = project.run("--json", "validate", url=any_url)
    assert validated.returncode == 0, validated.stdout
    assert json.loads(validated.stdout)["findings"] == []
