"""`db-migrate test`: pending migrations rehearsed on a scratch copy, on every real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollback_helpers import USERS, apply, columns, copy_exists, dialect, execute, make_project, query, write

from migration_manager import service
from migration_manager.errors import ConnectionFailed
from migration_manager.surfaces.cli.app import main


def seed_users(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "users",
        [
            USERS[0],
            "INSERT INTO users (id, email, nickname) VALUES (1, 'a@x', 'ann'), (2, 'b@x', NULL), (3, 'c@x', 'cy')",
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, note VARCHAR(50))",
            "INSERT INTO audit (id, note) VALUES (1, 'kept')",
        ],
        ["DROP TABLE audit", USERS[1]],
    )
    apply(project)


def rehearse(project: Path, **fields) -> service.TestReport:
    return service.test(service.TestRequest(project_dir=project, env="dev", **fields))


def test_rehearsal_applies_validates_rolls_back_and_leaves_the_environment_untouched(project: Path) -> None:
    seed_users(project)
    write(
        project,
        "20240102000000",
        "add_phone",
        ["ALTER TABLE users ADD COLUMN phone VARCHAR(20)", "CREATE INDEX users_phone ON users (phone)"],
        [
            "DROP INDEX users_phone" + (" ON users" if dialect(project) == "mysql" else ""),
            "ALTER TABLE users DROP COLUMN phone",
        ],
    )

    report = rehearse(project)

    assert report.outcome == "passed", report.message
    assert [s.name for s in report.steps] == [
        "copy the database",
        "snapshot: schema, row counts, checksums",
        "apply on the copy",
        "validate: constraints, row counts, untouched tables",
        "roll back on the copy",
        "compare with the original",
        "drop the copy",
    ]
    assert all(s.ok for s in report.steps)
    assert report.version_before == "20240101000000" and report.version_tested == "20240102000000"
    [tested] = report.migrations
    assert tested.applied and tested.rolled_back and tested.apply_ms is not None and tested.rollback_ms is not None
    by_table = {t.table: t for t in report.tables}
    assert by_table["users"].touched and not by_table["audit"].touched
    assert (
        by_table["users"].rows_before,
        by_table["users"].rows_after_apply,
        by_table["users"].rows_after_rollback,
    ) == (3, 3, 3)
    assert by_table["audit"].unchanged_after_apply is True
    assert all(t.restored_after_rollback for t in report.tables)
    assert {c.name: c.ok for c in report.checks} == {
        "constraints hold": True,
        "row counts of untouched tables preserved": True,
        "untouched tables unchanged (checksums)": True,
        "schema identical after rollback": True,
        "data identical after rollback": True,
    }
    # the environment itself: still at version 1, no phone column, and the copy is gone
    assert report.copy_dropped and not copy_exists(project, report.copy_name)
    assert "phone" not in columns(project, "users")
    assert [r[0] for r in query(project, "SELECT version FROM schema_migrations")] == ["20240101000000"]


def test_a_migration_that_fails_on_the_copy_fails_the_test_and_the_copy_is_dropped(project: Path) -> None:
    seed_users(project)
    write(
        project,
        "20240102000000",
        "add_phone",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20)",
        "ALTER TABLE users DROP COLUMN phone",
    )
    # a failure only the server finds (validation refuses a plan whose failure it can foresee)
    write(project, "20240103000000", "broken", "UPDATE users SET id = 1", "SELECT 1")

    report = rehearse(project)

    assert report.outcome == "failed"
    apply_step = next(s for s in report.steps if s.name == "apply on the copy")
    assert not apply_step.ok and _duplicate_key(apply_step.detail)
    assert "roll back on the copy" not in [s.name for s in report.steps]
    assert report.steps[-1].name == "drop the copy" and report.copy_dropped
    assert not copy_exists(project, report.copy_name)
    assert [m.applied for m in report.migrations] == [True, False]
    assert report.migrations[0].rolled_back  # rollback.autoOnFailure undid it on the copy
    assert any("autoOnFailure" in note for note in report.notes)
    assert _duplicate_key(report.migrations[1].error or "")
    assert "Test FAILED" in report.message and "apply on the copy" in report.message
    assert "phone" not in columns(project, "users")


def _duplicate_key(error: str) -> bool:
    return any(word in error.lower() for word in ("duplicate", "unique constraint"))


def test_rollback_that_loses_values_fails_the_data_check(project: Path) -> None:
    seed_users(project)
    # the DOWN re-creates the column empty: the values are gone unless something kept them
    write(
        project,
        "20240102000000",
        "drop_audit_note",
        "UPDATE audit SET note = NULL",
        "UPDATE audit SET note = 'restored?'",
    )

    report = rehearse(project)

    assert report.outcome == "failed"
    data = next(c for c in report.checks if c.name == "data identical after rollback")
    assert not data.ok and "audit" in data.detail
    assert next(c for c in report.checks if c.name == "schema identical after rollback").ok
    assert report.copy_dropped


def test_nothing_pending_means_nothing_to_test(project: Path) -> None:
    seed_users(project)
    report = rehearse(project)
    assert report.outcome == "nothing-to-do" and report.steps == [] and "Nothing is pending" in report.message


def test_postgres_copies_with_pg_dump_while_another_session_is_connected(pg_project: Path) -> None:
    import psycopg
    from rollback_helpers import settings_url

    seed_users(pg_project)
    write(
        pg_project,
        "20240102000000",
        "add_phone",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20)",
        "ALTER TABLE users DROP COLUMN phone",
    )
    with psycopg.connect(settings_url(pg_project)):  # an application session: TEMPLATE would refuse
        report = rehearse(pg_project)
    assert report.outcome == "passed", report.message
    assert report.copy_method.startswith("pg_dump -Fc | pg_restore")
    assert not copy_exists(pg_project, report.copy_name)


def test_postgres_copy_uses_the_template_when_nobody_is_connected(pg_project: Path) -> None:
    seed_users(pg_project)
    write(
        pg_project,
        "20240102000000",
        "add_phone",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20)",
        "ALTER TABLE users DROP COLUMN phone",
    )
    report = rehearse(pg_project)
    assert report.outcome == "passed", report.message
    assert report.copy_method.startswith("CREATE DATABASE ... TEMPLATE")


def test_postgres_not_valid_foreign_key_with_orphans_fails_validation_on_the_copy(pg_project: Path) -> None:
    seed_users(pg_project)
    write(
        pg_project,
        "20240102000000",
        "orders",
        [
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER)",
            "INSERT INTO orders VALUES (1, 1), (2, 99)",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
        ],
        "DROP TABLE orders",
    )
    report = rehearse(pg_project)
    check = next(c for c in report.checks if c.name == "constraints hold")
    assert not check.ok and "orders_user_fk" in check.detail and "orders" in check.detail
    assert report.outcome == "failed" and report.copy_dropped


def test_sqlite_trigger_that_changes_an_untouched_table_is_caught(sqlite_project: Path) -> None:
    seed_users(sqlite_project)
    execute(
        sqlite_project,
        "CREATE TRIGGER users_audit AFTER UPDATE ON users BEGIN "
        "INSERT INTO audit (id, note) VALUES (NEW.id + 100, 'changed'); END",
    )
    write(
        sqlite_project,
        "20240102000000",
        "lowercase",
        "UPDATE users SET email = upper(email)",
        "UPDATE users SET email = lower(email)",
    )
    report = rehearse(sqlite_project)
    counts = next(c for c in report.checks if c.name == "row counts of untouched tables preserved")
    assert not counts.ok and "audit: 1 -> 4" in counts.detail
    assert report.outcome == "failed"


def test_cli_prints_the_test_report_with_real_numbers(sqlite_project: Path, capsys) -> None:
    seed_users(sqlite_project)
    write(
        sqlite_project,
        "20240102000000",
        "add_phone",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20)",
        "ALTER TABLE users DROP COLUMN phone",
    )
    code = main(["test", "--project", str(sqlite_project), "--env", "dev"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Test on a copy of dev" in out and "SQLite online backup API" in out
    assert "20240102000000_add_phone" in out and "PASSED" in out and "Copy dropped: yes" in out
    assert "users" in out and "data identical after rollback" in out


def test_cli_test_exits_1_when_the_rehearsal_fails(sqlite_project: Path, capsys) -> None:
    seed_users(sqlite_project)
    write(sqlite_project, "20240102000000", "broken", "ALTER TABLE nope ADD COLUMN x INTEGER", "SELECT 1")
    assert main(["test", "--project", str(sqlite_project), "--env", "dev"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_unreachable_database_gives_a_clear_error(tmp_path: Path, capsys) -> None:
    project = make_project(tmp_path / "proj", "postgresql://postgres@127.0.0.1:1/nowhere")
    write(project, "20240101000000", "users", *USERS)
    with pytest.raises(ConnectionFailed) as caught:
        rehearse(project)
    assert "Cannot connect to postgresql://postgres@127.0.0.1:1/nowhere" in caught.value.message
    assert main(["test", "--project", str(project), "--env", "dev"]) == 3
    err = capsys.readouterr().err
    assert "Cannot connect" in err and "Traceback" not in err
