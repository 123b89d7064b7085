"""A bulk load of 20,000 INSERTs: validate still finds the one real error at its end, apply runs every row, and a
plan shows the start and the end of the script, not every statement. (The 449k-statement timing is in
tests/bench/bench_large_file.py: the suite asserts results, never durations.)"""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, query, user_tables
from migration_manager import service

ROWS = 20_000
pytestmark = pytest.mark.parametrize("any_url", ["sqlite", "postgres", "mysql"], indirect=True)


def bulk_load(project: Project, last: str = "", broken_row: int = 0) -> None:
    """ROWS INSERTs, then `last`; the INSERT of `broken_row` lacks its closing parenthesis."""
    rows = "\n".join(
        f"INSERT INTO items (id, name, note) VALUES ({i}, 'name {i}', 'a note; with a semicolon'"
        + (";" if i == broken_row else ");")
        for i in range(1, ROWS + 1)
    )
    project.native(
        "1",
        "bulk_load",
        f"CREATE TABLE items (id integer PRIMARY KEY, name varchar(100), note text);\n{rows}\n{last}",
        "DROP TABLE items;",
    )


def test_validate_finds_the_error_after_twenty_thousand_inserts(any_url: str, project: Project) -> None:
    project.url = any_url
    bulk_load(project, last="INSERT INTO itemz (id) VALUES (1);")
    done = project.run("validate", "--json")
    report = json.loads(done.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert done.returncode != 0 and not report["ok"], done.stdout[-2000:]
    assert [(f["rule"], f["statement_index"]) for f in errors] == [("schema-missing-table", ROWS + 2)], errors
    assert "itemz" in errors[0]["message"] and errors[0]["server_check"] == "confirmed"  # replayed to its end
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["files parse"]["ok"] and all(c["ok"] for name, c in checks.items() if name.startswith("SQL parses"))


def test_a_syntax_error_at_the_end_is_named_with_its_line(any_url: str, project: Project) -> None:
    project.url = any_url
    bulk_load(project, last="INSERT INTO items (id VALUES (0);")
    report = json.loads(project.run("validate", "--json").stdout)
    syntax = next(c for c in report["checks"] if c["name"].startswith("SQL parses"))
    # -- UP, BEGIN;, the CREATE TABLE, then one line per row: the broken INSERT is on line ROWS + 4.
    assert not syntax["ok"] and f"UP statement {ROWS + 2} (line {ROWS + 4})" in syntax["detail"], syntax


def test_a_malformed_insert_in_the_middle_is_named_with_its_line(any_url: str, project: Project) -> None:
    # Thousands of INSERTs shaped like it come before and after (MariaDB's check parses one shape once).
    broken = ROWS // 2
    bulk_load(project, broken_row=broken)
    project.url = any_url
    done = project.run("validate", "--json")
    report = json.loads(done.stdout)
    syntax = next(c for c in report["checks"] if c["name"].startswith("SQL parses"))
    assert done.returncode != 0 and not syntax["ok"], syntax
    # -- UP, BEGIN;, the CREATE TABLE, then one line per row; the one broken statement is the only one named.
    assert f"UP statement {broken + 1} (line {broken + 3})" in syntax["detail"], syntax
    assert syntax["detail"].count("UP statement") == 1, syntax


def test_the_dry_run_reports_its_checks_before_the_plan(any_url: str, project: Project) -> None:
    # Seconds each on a file of 400k statements: the CLI draws these steps as validate's progress bar.
    bulk_load(project)
    events: list = []
    request = service.ApplyRequest(project_dir=project.root, url=any_url, dry_run=True)
    assert service.apply(request, progress=events.append).outcome == "dry-run"
    assert [(e.phase, e.migration_index, e.migration_total, e.message) for e in events] == [
        ("check", 1, 5, "reading the migration files"),
        ("check", 2, 5, "reading the history"),
        ("check", 3, 5, "checking the SQL syntax"),
        ("check", 4, 5, "replaying the pending migrations on the live schema"),
        ("check", 5, 5, "running the rules"),
    ]
    assert "items" not in user_tables(any_url)


def test_apply_runs_every_row_and_the_plan_shows_both_ends(any_url: str, project: Project) -> None:
    project.url = any_url
    bulk_load(project)
    assert project.run("validate").returncode == 0
    plan = project.run("apply", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    hidden = ROWS + 1 - 100
    assert f"-- ... {hidden:,} more statements, not shown" in plan.stdout, plan.stdout[-3000:]
    assert "VALUES (1, 'name 1'" in plan.stdout and f"VALUES ({ROWS}, 'name {ROWS}'" in plan.stdout
    assert "VALUES (5000, " not in plan.stdout and len(plan.stdout.splitlines()) < 200
    assert "items" not in user_tables(any_url)  # a dry run changes nothing

    done = project.run("apply", "--yes", timeout=600)
    assert done.returncode == 0, done.stderr
    assert query(any_url, "SELECT count(*), count(DISTINCT id), max(id), min(note) FROM items") == [
        (ROWS, ROWS, ROWS, "a note; with a semicolon")
    ]
    assert query(any_url, "SELECT version, status FROM schema_migrations") == [("1", "applied")]
