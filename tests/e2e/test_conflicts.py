"""Disk and history disagreeing, and bad files: every command refuses before anything runs, and says why."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, history, user_tables


def check(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"].startswith(name))


def no_traceback(done) -> None:
    assert "Traceback" not in done.stdout + done.stderr


def test_edited_applied_migration_is_refused_by_validate_and_apply(any_url: str, project: Project) -> None:
    project.url = any_url
    path = project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    assert project.run("apply", "--to", "1").returncode == 0
    recorded = history(any_url)["1"][3]

    path.write_text(path.read_text().replace("CREATE TABLE a (id integer)", "CREATE TABLE a (id bigint)"))
    validate = project.run("validate", "--json")
    assert validate.returncode == 1
    edited = check(json.loads(validate.stdout), "no edited applied migration")
    assert not edited["ok"] and "1_a.sql" in edited["detail"]

    done = project.run("apply")
    assert done.returncode == 5
    assert "changed on disk since they ran: 1_a.sql" in done.stderr and "Nothing was run" in done.stderr
    no_traceback(done)
    assert user_tables(any_url) == {"a"} and history(any_url)["1"][3] == recorded  # b not applied

    status = json.loads(project.run("status", "--json").stdout)
    assert status["applied"][0]["state"] == "edited" and any("1_a.sql" in p for p in status["problems"])


def test_comment_only_edit_is_not_tampering(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    path = project.native("1", "a", "CREATE TABLE a (id integer);")
    project.run("apply")
    path.write_text("-- reviewed by bob\n" + path.read_text().replace("CREATE TABLE", "CREATE  TABLE"))
    assert project.run("validate").returncode == 0
    assert json.loads(project.run("apply", "--json").stdout)["outcome"] == "nothing-to-do"


def test_intended_edit_is_accepted_with_resolve(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    path = project.native("1", "a", "CREATE TABLE a (id integer);")
    project.run("apply")
    path.write_text(path.read_text().replace("integer", "INTEGER"))
    assert project.run("apply").returncode == 5
    done = project.run("resolve", "1", "--accept-checksum")
    assert done.returncode == 0, done.stderr
    assert project.run("validate").returncode == 0
    assert ("1", "accept-checksum") in [
        (v, a) for v, a, _ in [tuple(e) for e in __import__("dbcheck").events(sqlite_url)]
    ]


def test_applied_migration_missing_on_disk_is_refused(any_url: str, project: Project) -> None:
    project.url = any_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    gone = project.native("2", "b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    project.native("3", "c", "CREATE TABLE c (id integer);", "DROP TABLE c;")
    assert project.run("apply", "--to", "2").returncode == 0
    gone.unlink()
    done = project.run("apply")
    assert done.returncode == 5 and "missing on disk: 2_b" in done.stderr
    no_traceback(done)
    assert "c" not in user_tables(any_url)
    missing = check(json.loads(project.run("validate", "--json").stdout), "no applied migration missing")
    assert not missing["ok"] and "2_b" in missing["detail"]


def test_duplicate_versions_name_both_files(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("20240101000000", "from_main", "CREATE TABLE a (id integer);")
    project.native("20240101000000", "from_branch", "CREATE TABLE b (id integer);")
    done = project.run("apply")
    assert done.returncode == 4
    assert "20240101000000_from_branch.sql" in done.stderr and "20240101000000_from_main.sql" in done.stderr
    no_traceback(done)
    assert user_tables(sqlite_url) == set()
    validate = project.run("validate", "--json")
    assert validate.returncode == 1 and not check(json.loads(validate.stdout), "versions unique")["ok"]


def test_conflicting_heads_are_refused_until_allowed(any_url: str, project: Project) -> None:
    project.url = any_url
    project.native("20240101000000", "base", "CREATE TABLE base (id integer);")
    project.native("20240103000000", "main_head", "CREATE TABLE main_head (id integer);")
    assert project.run("apply").returncode == 0
    project.native("20240102000000", "branch_head", "CREATE TABLE branch_head (id integer);")  # merged late

    validate = project.run("validate", "--json")
    heads = check(json.loads(validate.stdout), "no conflicting heads")
    assert validate.returncode == 1 and "20240102000000_branch_head" in heads["detail"]
    done = project.run("apply")
    assert done.returncode == 5 and "older than the current version 20240103000000" in done.stderr
    assert "branch_head" not in user_tables(any_url)

    allowed = project.run("apply", "--allow-out-of-order", "--json")
    assert allowed.returncode == 0 and "branch_head" in user_tables(any_url)


@pytest.mark.parametrize(
    "dialect_url, bad, line",
    [
        ("sqlite_url", "CREATE TABEL b (id integer);", 6),
        ("pg_url", "CREATE TABLE b (id integer,, name text);", 6),
        ("mysql_url", "INSERT INTO a VALUES (1,;", 6),
    ],
)
def test_malformed_sql_names_file_and_line(
    dialect_url: str, bad: str, line: int, project: Project, request: pytest.FixtureRequest
) -> None:
    project.url = request.getfixturevalue(dialect_url)
    project.write(
        "1_bad.sql",
        f"-- author: x\n-- UP\nBEGIN;\nCREATE TABLE a (id integer);\n\n{bad}\nCOMMIT;\n-- DOWN\nDROP TABLE a;\n",
    )
    done = project.run("validate", "--json")
    assert done.returncode == 1
    parses = next(c for c in json.loads(done.stdout)["checks"] if c["name"].startswith("SQL parses"))
    assert not parses["ok"]
    assert parses["detail"].startswith(f"1_bad.sql: UP statement 2 (line {line}): ")
    text = project.run("validate")
    assert text.returncode == 1 and "1_bad.sql" in text.stdout and f"line {line}" in text.stdout
    no_traceback(text)


def test_unreadable_file_is_reported_by_validate_and_refused_by_apply(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.write("1_x.sql", "CREATE TABLE x (id integer);\n")  # no format markers
    done = project.run("apply")
    assert done.returncode == 4 and "1_x.sql: cannot tell which migration format" in done.stderr
    validate = json.loads(project.run("validate", "--json").stdout)
    assert not check(validate, "files parse")["ok"] and "1_x.sql" in check(validate, "files parse")["detail"]
