"""Scratch copies: everything the migrations can meet is in the copy, and drop() leaves nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from rollback_helpers import USERS, apply, copy_exists, dialect, execute, settings_url, write

from migration_manager import clone
from migration_manager.dialects import open_engine
from migration_manager.errors import CopyFailed

TRIGGER = {
    "sqlite": "CREATE TRIGGER users_count AFTER INSERT ON users BEGIN UPDATE counter SET n = n + 1; END",
    "mysql": "CREATE TRIGGER users_count AFTER INSERT ON users FOR EACH ROW UPDATE counter SET n = n + 1",
    "postgres": None,  # TEMPLATE / pg_restore copy functions and triggers as a whole; tested on the other two
}


def seed(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "schema",
        [
            USERS[0],
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id))",
            "CREATE TABLE counter (n INTEGER NOT NULL)",
            "INSERT INTO counter (n) VALUES (0)",
            "INSERT INTO users (id, email, nickname) VALUES (1, 'a@x', 'ann'), (2, 'b@x', NULL)",
            "INSERT INTO orders (id, user_id) VALUES (10, 1), (11, 2)",
            "CREATE VIEW user_emails AS SELECT id, email FROM users",
        ],
        None,
    )
    apply(project)
    if TRIGGER[dialect(project)]:
        execute(project, TRIGGER[dialect(project)])


def test_copy_has_the_tables_rows_views_keys_and_triggers_and_drop_removes_it(project: Path) -> None:
    seed(project)
    copy = clone.make_copy(settings_url(project))
    engine = open_engine(copy.url)
    try:
        assert {"users", "orders", "counter", "schema_migrations"} <= set(engine.tables())
        assert sorted(engine.query("SELECT id, email, nickname FROM users")) == [(1, "a@x", "ann"), (2, "b@x", None)]
        assert sorted(engine.query("SELECT id, email FROM user_emails")) == [(1, "a@x"), (2, "b@x")]
        if dialect(project) == "sqlite":
            engine.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(Exception, match="(?i)foreign key"):  # the foreign key came along
            engine.execute("INSERT INTO orders (id, user_id) VALUES (12, 999)")
        if TRIGGER[dialect(project)]:  # triggers came along, and did not fire while the rows were copied
            assert engine.query("SELECT n FROM counter") == [(0,)]
            engine.execute("INSERT INTO users (id, email) VALUES (3, 'c@x')")
            assert engine.query("SELECT n FROM counter") == [(1,)]
    finally:
        engine.close()
        copy.drop()
    assert not copy_exists(project, copy.name)
    engine = open_engine(settings_url(project))  # the original is untouched
    try:
        assert engine.query("SELECT count(*) FROM users") == [(2,)]
    finally:
        engine.close()


def test_fingerprint_ignores_row_order_and_sees_a_changed_value(project: Path) -> None:
    seed(project)
    engine = open_engine(settings_url(project))
    try:
        before = clone.fingerprint(engine, "users", ["email", "id", "nickname"])
        engine.execute("UPDATE users SET nickname = NULL WHERE id = 1")
        engine.execute("UPDATE users SET nickname = 'ann' WHERE id = 2")
        swapped = clone.fingerprint(engine, "users", ["email", "id", "nickname"])
        engine.execute("UPDATE users SET nickname = 'ann' WHERE id = 1")
        engine.execute("UPDATE users SET nickname = NULL WHERE id = 2")
        assert clone.fingerprint(engine, "users", ["email", "id", "nickname"]) == before != swapped
        assert before.startswith("2:")
    finally:
        engine.close()


def test_copy_of_a_sqlite_file_not_created_yet_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    copy = clone.make_copy(f"sqlite:///{tmp_path / 'absent.db'}")
    try:
        assert copy.method.startswith("empty") and not (tmp_path / "absent.db").exists()
    finally:
        copy.drop()


def test_copy_of_a_file_that_is_not_a_database_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database " * 100)
    with pytest.raises(CopyFailed) as caught:
        clone.make_copy(f"sqlite:///{tmp_path / 'notes.db'}")
    assert "Could not copy" in caught.value.message and "not changed" in caught.value.state
    assert not list(Path(tempfile.gettempdir()).glob("mm-test-*/notes.db"))
