"""Read-only commands create nothing (no table, no SQLite file), and a historyTable that names a table
which is not a history table is refused by every command before anything is created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbcheck import Project, execute, query, tables

READ_ONLY = [
    ["status"],
    ["history"],
    ["validate"],
    ["analyze"],
    ["apply", "--dry-run"],
    ["rollback", "--dry-run"],
    ["backup", "list"],
]
WRITING = [["apply", "--yes"], ["baseline", "--to", "1", "--yes"]]


def one_migration(project: Project, history_table: str | None = None) -> None:
    project.configure({"autoBackup": False} | ({"historyTable": history_table} if history_table else {}))
    project.native("1", "add_a", "CREATE TABLE a (id integer);", "DROP TABLE a;")


@pytest.mark.parametrize("ours", ["users", "users_log"])
def test_history_table_naming_a_user_table_is_refused_and_nothing_is_created(
    any_url: str, project: Project, ours: str
) -> None:
    """historyTable: users, where the application owns `users` (or `users_log`, the event log's name)."""
    project.url = any_url
    one_migration(project, "users")
    execute(any_url, f"CREATE TABLE {ours} (id integer PRIMARY KEY, email varchar(100))")
    execute(any_url, f"INSERT INTO {ours} VALUES (1, 'a@example.com')")
    for command in [c for c in READ_ONLY if c != ["backup", "list"]] + WRITING:
        done = project.run(*command, "--json")
        assert done.returncode == (1 if command == ["validate"] else 5), (command, done.stdout, done.stderr)
        text = done.stdout + done.stderr
        assert f"The table '{ours}' exists but is not a migration-manager history table" in text, command
        if command != ["validate"]:
            error = json.loads(done.stdout)
            assert error["state"] == "Nothing was changed: no table was created and that table is untouched."
            assert "historyTable" in error["next_step"]
        assert tables(any_url) == {ours}, command
        assert query(any_url, f"SELECT id, email FROM {ours}") == [(1, "a@example.com")]


def test_read_only_commands_create_no_table(any_url: str, project: Project) -> None:
    project.url = any_url
    one_migration(project)
    execute(any_url, "CREATE TABLE users (id integer PRIMARY KEY)")
    for command in READ_ONLY:
        done = project.run(*command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert tables(any_url) == {"users"}, command


def test_read_only_commands_create_no_sqlite_file(tmp_path: Path, project: Project) -> None:
    database = tmp_path / "not-yet.db"
    project.url = f"sqlite:///{database}"
    one_migration(project)
    for command in [*READ_ONLY, ["test"]]:  # test rehearses on an empty copy
        done = project.run(*command, "--json")
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert not list(tmp_path.glob("not-yet.db*")), command
    status = json.loads(project.run("status", "--json").stdout)
    assert status["current_version"] is None and [m["version"] for m in status["pending"]] == ["1"]
    assert project.run("apply", "--yes").returncode == 0  # a command that writes creates it
    assert tables(project.url) == {"a", "schema_migrations", "schema_migrations_log"}


def test_validate_names_the_history_table_check(any_url: str, project: Project) -> None:
    """The database was reached: the failed check is the history table's, with what to do."""
    project.url = any_url
    one_migration(project, "users")
    execute(any_url, "CREATE TABLE users (id integer PRIMARY KEY, email varchar(100))")
    done = project.run("validate", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert "database reachable" not in checks
    failed = checks["history table"]
    assert not failed["ok"]
    assert "The table 'users' exists but is not a migration-manager history table" in failed["detail"]
    assert "Set historyTable to another name" in failed["detail"]
    text = project.run("validate").stdout
    assert "history table" in text and "database reachable" not in text
    assert tables(any_url) == {"users"}
