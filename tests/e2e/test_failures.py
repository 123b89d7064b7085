"""A migration failing half-way, on each database: what is left, what status says, and the way out."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, events, execute, history, user_tables

# Statement 3 fails on data only the server sees (a duplicate key): validation cannot foresee it.
FAILING = (
    "CREATE TABLE half1 (id integer);\nCREATE TABLE half2 (id integer);\n"
    "INSERT INTO knob VALUES (1);\nCREATE TABLE half3 (id integer);"
)


def knob(url: str) -> None:
    execute(url, "CREATE TABLE knob (id integer PRIMARY KEY)")
    execute(url, "INSERT INTO knob VALUES (1)")


@pytest.fixture(params=["sqlite", "postgres"])
def transactional_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param])


def test_failure_half_way_leaves_nothing_on_transactional_databases(transactional_url: str, project: Project) -> None:
    project.url = transactional_url
    knob(transactional_url)
    project.native("1", "first", "CREATE TABLE first (id integer);", "DROP TABLE first;")
    assert project.run("apply").returncode == 0
    project.native("2", "broken", FAILING, "DROP TABLE half1;")

    done = project.run("apply")
    assert done.returncode == 9
    assert "Apply of 2_broken failed at statement 3 of 4" in done.stdout + done.stderr
    assert "knob" in done.stdout + done.stderr  # the server's own reason
    assert "Traceback" not in done.stdout + done.stderr
    assert user_tables(transactional_url) == {"first", "knob"}  # nothing of 2 remains
    assert list(history(transactional_url)) == ["1"]
    assert ("2", "apply", "failed") in events(transactional_url)

    status = json.loads(project.run("status", "--json").stdout)
    assert status["dirty"] is False and status["current_version"] == "1"
    assert [m["version"] for m in status["pending"]] == ["2"]


def test_failed_run_reports_json_with_the_statement(transactional_url: str, project: Project) -> None:
    project.url = transactional_url
    knob(transactional_url)
    project.native("1", "broken", FAILING)
    done = project.run("apply", "--json")
    assert done.returncode == 9
    report = json.loads(done.stdout)
    assert report["outcome"] == "failed" and report["error"]["error"] == "statement_failed"
    (run,) = report["migrations"]
    assert [s["status"] for s in run["statements"]] == ["done", "done", "failed", "planned"]
    assert "transaction was rolled back" in report["error"]["state"]


def dirty_mariadb(project: Project, url: str) -> None:
    """Migration 2 stops at statement 3 of 4 on MariaDB, where DDL has already committed."""
    project.url = url
    knob(url)
    project.configure({"autoBackup": False, "rollback": {"autoOnFailure": False}})
    project.native("1", "first", "CREATE TABLE first (id integer);", "DROP TABLE first;")
    project.native("2", "broken", FAILING, "DROP TABLE half3;\nDROP TABLE half2;\nDROP TABLE half1;")
    done = project.run("apply")
    assert done.returncode == 9
    text = done.stdout + done.stderr
    assert "DIRTY: 2_broken stopped at statement 3 of 4" in text and "statements 1..2 are committed" in text
    assert "db-migrate resolve 2 --retry" in text


def test_mariadb_failure_half_way_is_dirty_at_the_statement(mysql_url: str, project: Project) -> None:
    dirty_mariadb(project, mysql_url)
    assert user_tables(mysql_url) == {"first", "half1", "half2", "knob"}
    assert history(mysql_url)["2"][:3] == ("failed", 2, 4)

    status = project.run("status", "--json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert report["dirty"] is True and report["current_version"] == "1"
    (dirty,) = [m for m in report["applied"] if m["state"] == "dirty"]
    assert (dirty["version"], dirty["statements_done"], dirty["statements_total"]) == ("2", 2, 4)
    assert "statement 3 failed" in report["dirty_detail"] and "2 of 4 statements done" in report["dirty_detail"]
    assert "resolve 2 --retry" in report["next_action"]

    for command in (["apply"], ["rollback"]):
        refused = project.run(*command)
        assert refused.returncode == 6, command
        assert "2_broken is dirty" in refused.stderr and "resolve 2 --retry" in refused.stderr
    assert user_tables(mysql_url) == {"first", "half1", "half2", "knob"}
    validate = json.loads(project.run("validate", "--json").stdout)
    assert not next(c for c in validate["checks"] if c["name"] == "not dirty")["ok"]


def test_mariadb_failure_at_the_first_statement_says_nothing_was_committed(mysql_url: str, project: Project) -> None:
    project.url = mysql_url
    knob(mysql_url)
    project.configure({"autoBackup": False, "rollback": {"autoOnFailure": False}})
    project.native("1", "broken", "INSERT INTO knob VALUES (1);\nCREATE TABLE half1 (id integer);", "DROP TABLE half1;")
    done = project.run("apply")
    assert done.returncode == 9
    text = " ".join((done.stdout + done.stderr).split())
    assert "stopped at statement 1 of 2 (apply); no statement was committed, 1..2 did not run" in text, text
    refused = " ".join(project.run("apply").stderr.split())
    assert "No statement of 1_broken was committed; the rest did not run" in refused, refused
    for shown in (text, refused, project.run("status").stdout):
        assert "1..0" not in shown
    assert history(mysql_url)["1"][:3] == ("failed", 0, 2) and user_tables(mysql_url) == {"knob"}


def test_mariadb_resolve_retry_runs_from_the_failed_statement(mysql_url: str, project: Project) -> None:
    dirty_mariadb(project, mysql_url)
    execute(mysql_url, "DELETE FROM knob")  # fix the cause
    done = project.run("resolve", "2", "--retry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert user_tables(mysql_url) == {"first", "half1", "half2", "half3", "knob"}
    assert history(mysql_url)["2"][:3] == ("applied", 4, 4)
    assert json.loads(project.run("status", "--json").stdout)["current_version"] == "2"
    assert project.run("rollback").returncode == 0 and user_tables(mysql_url) == {"first", "knob"}


def test_mariadb_resolve_mark_not_applied_after_undoing_by_hand(mysql_url: str, project: Project) -> None:
    dirty_mariadb(project, mysql_url)
    execute(mysql_url, "DROP TABLE half1")
    execute(mysql_url, "DROP TABLE half2")
    done = project.run("resolve", "2", "--mark-not-applied")
    assert done.returncode == 0, done.stderr
    assert list(history(mysql_url)) == ["1"]
    assert ("2", "mark-not-applied", "ok") in events(mysql_url)
    status = json.loads(project.run("status", "--json").stdout)
    assert status["dirty"] is False and [m["version"] for m in status["pending"]] == ["2"]


def test_mariadb_resolve_mark_applied_after_finishing_by_hand(mysql_url: str, project: Project) -> None:
    dirty_mariadb(project, mysql_url)
    execute(mysql_url, "CREATE TABLE half3 (id integer)")
    done = project.run("resolve", "2", "--mark-applied")
    assert done.returncode == 0, done.stderr
    assert history(mysql_url)["2"][:3] == ("applied", 4, 4)
    assert project.run("apply", "--json").returncode == 0


def test_resolve_refuses_a_migration_that_is_not_dirty(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);")
    project.run("apply")
    done = project.run("resolve", "1", "--retry")
    assert done.returncode == 5 and "is not dirty" in done.stderr
    missing = project.run("resolve", "9", "--mark-applied")
    assert missing.returncode == 4 and "9 has no history row" in missing.stderr
