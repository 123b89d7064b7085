"""Reading migration files: every format, detected from the file itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_manager.errors import MigrationFileError
from migration_manager.migrations.formats import read_directory, read_file, version_key

NATIVE = """-- author: alice
-- strategy: offline
-- UP
BEGIN;
CREATE TABLE users (id integer PRIMARY KEY, email text);
INSERT INTO users VALUES (1, 'a;b');
COMMIT;

-- DOWN
BEGIN;
DROP TABLE users;
COMMIT;
"""

GOOSE = """-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION one() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TABLE g (id int);

-- +goose Down
DROP TABLE g;
DROP FUNCTION one();
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_native_sections_headers_and_transaction_control_removed(tmp_path: Path) -> None:
    m = read_file(write(tmp_path, "20240101120000_add_users.sql", NATIVE), "postgres")
    assert (m.format, m.version, m.name, m.author, m.strategy) == (
        "native",
        "20240101120000",
        "add_users",
        "alice",
        "offline",
    )
    assert m.up.statements == (
        "CREATE TABLE users (id integer PRIMARY KEY, email text)",
        "INSERT INTO users VALUES (1, 'a;b')",
    )
    assert m.down is not None and m.down.statements == ("DROP TABLE users",)
    assert not m.up.no_transaction and m.checksum.startswith("v1:")


def test_native_no_transaction_header(tmp_path: Path) -> None:
    text = "-- no-transaction\n-- UP\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- DOWN\nDROP INDEX CONCURRENTLY i;\n"
    m = read_file(write(tmp_path, "2_idx.sql", text), "postgres")
    assert m.up.no_transaction and m.down is not None and m.down.no_transaction


def test_native_without_down_cannot_roll_back(tmp_path: Path) -> None:
    m = read_file(write(tmp_path, "3_x.sql", "-- UP\nCREATE TABLE x (a int);\n"), "sqlite")
    assert m.down is None and not m.can_roll_back


def test_native_empty_down_counts_as_no_down(tmp_path: Path) -> None:
    m = read_file(
        write(tmp_path, "3_x.sql", "-- UP\nCREATE TABLE x (a int);\n-- DOWN\nBEGIN;\n  -- later\nCOMMIT;\n"), "sqlite"
    )
    assert m.down is None


def test_dbmate_up_down_and_transaction_false(tmp_path: Path) -> None:
    text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n"
    m = read_file(write(tmp_path, "20240102000000_idx.sql", text), "postgres")
    assert m.format == "dbmate" and m.up.no_transaction
    assert m.up.statements == ("CREATE INDEX CONCURRENTLY i ON t (a)",)
    assert m.down is not None and not m.down.no_transaction and m.down.statements == ("DROP INDEX i",)


def test_goose_statement_blocks_kept_whole(tmp_path: Path) -> None:
    m = read_file(write(tmp_path, "00003_fn.sql", GOOSE), "postgres")
    assert m.format == "goose" and m.version == "00003" and not m.up.no_transaction
    assert len(m.up.statements) == 2
    assert m.up.statements[0].startswith("CREATE FUNCTION one()") and "RETURN 1; END;" in m.up.statements[0]
    assert m.up.statements[1] == "CREATE TABLE g (id int)"
    assert m.down is not None and m.down.statements == ("DROP TABLE g", "DROP FUNCTION one()")


def test_goose_no_transaction(tmp_path: Path) -> None:
    text = (
        "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose Down\nDROP INDEX i;\n"
    )
    m = read_file(write(tmp_path, "4_idx.sql", text), "postgres")
    assert m.up.no_transaction and m.down is not None and m.down.no_transaction


def test_golang_migrate_pairs(tmp_path: Path) -> None:
    write(tmp_path, "000001_create_t.up.sql", "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n")
    write(tmp_path, "000001_create_t.down.sql", "DROP TABLE t;\n")
    write(tmp_path, "000002_only_up.up.sql", "ALTER TABLE t ADD COLUMN b int;\n")
    first, second = read_directory(tmp_path, "mysql")
    assert (first.format, first.version, first.name) == ("golang-migrate", "000001", "create_t")
    assert first.up.statements == ("CREATE TABLE t (a int)", "INSERT INTO t VALUES (1)")
    assert first.down is not None and first.down.statements == ("DROP TABLE t",)
    assert first.down_path == tmp_path / "000001_create_t.down.sql"
    assert second.down is None


def test_flyway_versioned_with_undo(tmp_path: Path) -> None:
    write(tmp_path, "V1_2__add_t.sql", "CREATE TABLE t (a int);\n")
    write(tmp_path, "U1_2__add_t.sql", "DROP TABLE t;\n")
    write(tmp_path, "V1_10__later.sql", "CREATE TABLE u (a int);\n")
    migrations = read_directory(tmp_path, "sqlite")
    assert [(m.format, m.version, m.name) for m in migrations] == [
        ("flyway", "1.2", "add_t"),
        ("flyway", "1.10", "later"),
    ]
    assert migrations[0].down is not None and migrations[0].down.statements == ("DROP TABLE t",)
    assert migrations[1].down is None


def test_flyway_repeatable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="repeatable"):
        read_file(write(tmp_path, "R__views.sql", "CREATE VIEW v AS SELECT 1;\n"), "sqlite")


def test_python_migration_functions_and_transactional_flag(tmp_path: Path) -> None:
    text = "transactional = False\n\ndef up(ctx):\n    ctx.execute('SELECT 1')\n\ndef down(ctx):\n    pass\n"
    m = read_file(write(tmp_path, "20240105000000_backfill.py", text), "postgres")
    assert m.format == "python" and m.up.is_python and m.up.no_transaction
    assert m.down is not None and m.down.python_callable == "down"


def test_python_migration_without_up_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match=r"no up\(ctx\)"):
        read_file(write(tmp_path, "5_x.py", "def down(ctx):\n    pass\n"), "sqlite")


def test_python_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="line 2"):
        read_file(write(tmp_path, "5_x.py", "def up(ctx):\nreturn\n"), "sqlite")


def test_mixed_formats_in_one_folder_are_detected_and_ordered(tmp_path: Path) -> None:
    write(tmp_path, "3_native.sql", "-- UP\nCREATE TABLE c (a int);\n")
    write(tmp_path, "1_dbmate.sql", "-- migrate:up\nCREATE TABLE a (a int);\n")
    write(tmp_path, "2_goose.sql", "-- +goose Up\nCREATE TABLE b (a int);\n")
    write(tmp_path, "4_py.py", "def up(ctx):\n    pass\n")
    write(tmp_path, "README.md", "not a migration")
    found = read_directory(tmp_path, "sqlite")
    assert [(m.version, m.format) for m in found] == [("1", "dbmate"), ("2", "goose"), ("3", "native"), ("4", "python")]


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="7_plain.sql: cannot tell which migration format"):
        read_file(write(tmp_path, "7_plain.sql", "CREATE TABLE t (a int);\n"), "sqlite")


def test_file_name_without_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="cannot read a version"):
        read_file(write(tmp_path, "add_users.sql", "-- UP\nCREATE TABLE t (a int);\n"), "sqlite")


def test_duplicate_versions_are_refused_with_both_names(tmp_path: Path) -> None:
    write(tmp_path, "20240101000000_a.sql", "-- UP\nCREATE TABLE a (a int);\n")
    write(tmp_path, "20240101000000_b.sql", "-- UP\nCREATE TABLE b (a int);\n")
    with pytest.raises(MigrationFileError) as caught:
        read_directory(tmp_path, "sqlite")
    assert "20240101000000_a.sql" in caught.value.message and "20240101000000_b.sql" in caught.value.message


def test_unfilled_template_up_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="UP section has no statements"):
        read_file(write(tmp_path, "1_x.sql", "-- UP\nBEGIN;\n-- Your SQL here\nCOMMIT;\n-- DOWN\n"), "sqlite")


def test_checksum_ignores_comments_and_whitespace_but_not_sql(tmp_path: Path) -> None:
    base = read_file(write(tmp_path, "1_x.sql", "-- UP\nCREATE TABLE t (a int);\n"), "postgres").checksum
    cosmetic = read_file(
        write(tmp_path, "1_x.sql", "-- a note\n-- UP\n-- why\nCREATE   TABLE t (a int);  \n\n"), "postgres"
    ).checksum
    changed = read_file(write(tmp_path, "1_x.sql", "-- UP\nCREATE TABLE t (a bigint);\n"), "postgres").checksum
    assert base == cosmetic
    assert changed != base


def test_version_key_orders_numerically() -> None:
    versions = ["1.10", "1.2", "20240101000000", "001", "2"]
    assert sorted(versions, key=version_key) == ["001", "1.2", "1.10", "2", "20240101000000"]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_rollback_in_a_file_is_refused_naming_the_line(tmp_path: Path, dialect: str) -> None:
    """The runner dropped it: `BEGIN; INSERT 1; ROLLBACK; INSERT 2;` committed both rows."""
    text = "-- UP\nBEGIN;\nINSERT INTO t VALUES (1);\nROLLBACK;\nINSERT INTO t VALUES (2);\n"
    with pytest.raises(MigrationFileError, match=r"^1_x.sql line 4: `ROLLBACK` undoes the transaction") as raised:
        read_file(write(tmp_path, "1_x.sql", text), dialect)
    assert "Remove that statement" in raised.value.next_step


def test_goose_rollback_is_refused_naming_the_line(tmp_path: Path) -> None:
    text = "-- +goose Up\nCREATE TABLE g (id int);\n-- +goose Down\nDROP TABLE g;\nABORT;\n"
    with pytest.raises(MigrationFileError, match=r"^1_g.sql line 5: `ABORT`"):
        read_file(write(tmp_path, "1_g.sql", text), "postgres")


def test_savepoints_are_kept_in_one_transaction_and_refused_without_one(tmp_path: Path) -> None:
    body = "SAVEPOINT s;\nINSERT INTO t VALUES (1);\nROLLBACK TO SAVEPOINT s;\n"
    m = read_file(write(tmp_path, "1_s.sql", "-- UP\n" + body), "postgres")
    assert m.up.statements == ("SAVEPOINT s", "INSERT INTO t VALUES (1)", "ROLLBACK TO SAVEPOINT s")
    with pytest.raises(MigrationFileError, match="line 3: `SAVEPOINT s` needs a transaction"):
        read_file(write(tmp_path, "2_s.sql", "-- no-transaction\n-- UP\n" + body), "postgres")
    with pytest.raises(MigrationFileError, match="line 2: `SAVEPOINT s` needs a transaction"):
        read_file(write(tmp_path, "3_s.sql", "-- UP\n" + body), "mysql")


@pytest.mark.parametrize(
    "name, text",
    [
        ("1_x.sql", "-- UP\n-- only MySQL needs this change\n-- DOWN\n"),
        ("1_x.sql", "-- migrate:up\n\n-- migrate:down\n"),
        ("1_x.sql", "-- +goose Up\n-- nothing here\n-- +goose Down\n"),
        ("1_x.up.sql", ""),
        ("V1__x.sql", "/* nothing on this database */\n"),
    ],
)
def test_up_without_statements_is_a_migration_that_runs_nothing(tmp_path: Path, name: str, text: str) -> None:
    """Every format (issue 11): an empty or comment-only UP is valid, has a checksum, and has nothing to undo."""
    m = read_file(write(tmp_path, name, text), "postgres")
    assert m.up.statements == () and m.checksum.startswith("v1:") and m.can_roll_back


def test_empty_down_of_a_real_up_is_still_no_down(tmp_path: Path) -> None:
    write(tmp_path, "1_x.down.sql", "-- later\n")
    m = read_file(write(tmp_path, "1_x.up.sql", "CREATE TABLE x (a int);\n"), "postgres")
    assert m.down is None and not m.can_roll_back
