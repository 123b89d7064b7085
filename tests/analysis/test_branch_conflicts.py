"""Two migrations written on different git branches that change the same object are a conflict even
when both are pending and in version order: neither author saw the other's change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dbcheck import DB_MIGRATE, make_project
from migration_manager.dialects import open_engine
from migration_manager.service import ApplyRequest, TargetRequest, apply, validate

pytestmark = pytest.mark.postgres


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def commit(project: Path, version: str, up: str, down: str) -> None:
    (project / "migrations" / f"{version}_m.sql").write_text(f"-- UP\n{up}\n-- DOWN\n{down}\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", version)


@pytest.fixture
def project(pg_url, tmp_path):
    root = make_project(tmp_path / "p", pg_url)
    engine = open_engine(pg_url)
    engine.execute("CREATE TABLE users (id integer PRIMARY KEY, email varchar(200))")
    engine.close()
    git(root, "init", "-q")
    commit(root, "20240101", "ALTER TABLE users ADD COLUMN name text;", "ALTER TABLE users DROP COLUMN name;")
    assert apply(ApplyRequest(project_dir=root, env="dev")).outcome == "done"
    return root


def two_branches_change_email(project: Path) -> None:
    """Branch `widen` widens users.email (20240102), branch `require` makes it NOT NULL (20240103); left on
    `require` for the caller to add to it and merge."""
    git(project, "checkout", "-qb", "widen")
    commit(
        project,
        "20240102",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(200);",
    )
    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-qb", "require")
    commit(
        project,
        "20240103",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
    )


def _conflicts(project: Path) -> list:
    return [
        f for f in validate(TargetRequest(project_dir=project, env="dev")).findings if f.rule == "migration-conflict"
    ]


def test_pending_migrations_from_two_branches_on_the_same_column_conflict(project):
    two_branches_change_email(project)
    commit(project, "20240104", "CREATE TABLE audit (id integer);", "DROP TABLE audit;")  # touches nothing shared
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-edit", "widen", "require")

    [conflict] = _conflicts(project)
    assert (conflict.migration, conflict.severity, conflict.table) == ("20240102", "warning", "users")
    assert "20240103_m (pending) were written on different branches" in conflict.message
    assert "users.column email" in conflict.message
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"  # a warning: it does not stop


def test_a_pending_migration_against_an_applied_one_from_another_branch(project):
    git(project, "checkout", "-qb", "rename")
    commit(
        project,
        "20240102",
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        "ALTER TABLE users RENAME COLUMN full_name TO name;",
    )
    assert apply(ApplyRequest(project_dir=project, env="dev")).outcome == "done"  # deployed from the branch
    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-qb", "index")
    commit(project, "20240103", "CREATE INDEX users_name ON users (id);", "DROP INDEX users_name;")  # other object
    commit(
        project,
        "20240104",
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x';",
        "ALTER TABLE users ALTER COLUMN name DROP DEFAULT;",
    )
    git(project, "merge", "-q", "--no-edit", "rename")

    [conflict] = _conflicts(project)
    assert conflict.migration == "20240104" and "20240102_m (applied)" in conflict.message


def test_migrations_written_one_after_the_other_do_not_conflict(project):
    commit(
        project,
        "20240102",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(200);",
    )
    commit(
        project,
        "20240103",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
    )
    assert _conflicts(project) == []


def test_files_git_does_not_know_are_not_judged(project):
    git(project, "checkout", "-qb", "widen")
    commit(
        project,
        "20240102",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(300);",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(200);",
    )
    git(project, "checkout", "-q", "main")
    (project / "migrations" / "20240103_m.sql").write_text(
        "-- UP\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
    )
    git(project, "merge", "-q", "--no-edit", "widen")
    assert _conflicts(project) == []  # 20240103 is not committed: nobody knows where it was written


def test_an_index_on_a_column_another_branch_renames_conflicts_two_new_indexes_do_not(project):
    git(project, "checkout", "-qb", "rename")
    commit(
        project,
        "20240102",
        "ALTER TABLE users RENAME COLUMN email TO mail;",
        "ALTER TABLE users RENAME COLUMN mail TO email;",
    )
    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-qb", "index")
    commit(project, "20240103", "CREATE INDEX users_email ON users (email);", "DROP INDEX users_email;")
    commit(project, "20240104", "CREATE INDEX users_email_id ON users (email, id);", "DROP INDEX users_email_id;")
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-edit", "rename", "index")

    conflicts = _conflicts(project)
    assert sorted((f.migration, "20240103_m" in f.message, "20240104_m" in f.message) for f in conflicts) == [
        ("20240102", False, True),
        ("20240102", True, False),
    ]  # 03 and 04 only use the column: no conflict


def test_the_cli_names_the_conflicting_migration_without_a_statement_number(project):
    two_branches_change_email(project)
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-edit", "widen", "require")

    out = subprocess.run(
        [DB_MIGRATE, "--project", str(project), "--env", "dev", "validate"], capture_output=True, text=True, timeout=120
    )
    assert "migration-conflict 20240102:" in out.stdout, out.stdout + out.stderr
    assert "#None" not in out.stdout
