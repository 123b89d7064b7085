"""apply -> rollback -> apply leaves the data of one apply, plus the rows users wrote in between, once.

A table the DOWN drops is archived whole; the re-apply re-creates it and its own INSERTs (seed rows) fill it
again. The archived rows go back after the migration's last statement: a row whose key the migration already
made gets its archived values (kept once), the others are inserted, a row whose other unique key is taken is
left in the archive (never a duplicate, never a failed re-apply), and a table without a key is filled only when
the migration left it empty (rows without a key cannot be told apart: nothing is guessed)."""

from __future__ import annotations

from pathlib import Path

from archive_helpers import apply, archive_tables, dialect, events, execute, query, rollback, rows, write

SEED = "INSERT INTO countries (code, name) VALUES ('FR', 'France'), ('DE', 'Germany'), ('IT', 'Italy')"


def auto_id(project: Path) -> str:
    return {
        "postgres": "SERIAL PRIMARY KEY",
        "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY",
        "sqlite": "INTEGER PRIMARY KEY",
    }[dialect(project)]


def countries(project: Path, columns: str) -> None:
    write(project, "20240101000000", "countries", [f"CREATE TABLE countries ({columns})", SEED], "DROP TABLE countries")


def round_trip(project: Path, *user_writes: str):
    """apply, the users' writes, rollback, apply again: the report of the second apply."""
    apply(project)
    execute(project, *user_writes) if user_writes else None
    rollback(project)
    return apply(project)


def test_seed_rows_with_a_serial_key_are_not_doubled_and_user_rows_come_back_once(project: Path) -> None:
    countries(project, f"id {auto_id(project)}, code CHAR(2) NOT NULL, name VARCHAR(50)")

    again = round_trip(project, "INSERT INTO countries (code, name) VALUES ('ES', 'Spain')")

    assert rows(project, "countries") == [
        (1, "FR", "France"),
        (2, "DE", "Germany"),
        (3, "IT", "Italy"),
        (4, "ES", "Spain"),
    ]
    (step,) = again.migrations[0].archives
    assert (step.action, step.statement_index, step.rows, step.rows_present) == ("restore", 2, 4, 3)
    assert step.note == (
        "3 of these rows were already made by the migration's own statements: they were given their archived values"
    )
    assert archive_tables(project) == set()
    restored = events(project, "archive-restored")[-1]
    assert restored["summary"] == (
        "countries: 4 rows (3 already present from the migration's own statements), "
        "_mm_archive_20240101000000_d1_countries"
    )
    if dialect(project) != "sqlite":  # the sequence continues after the restored ids
        execute(project, "INSERT INTO countries (code) VALUES ('PT')")
        assert query(project, "SELECT id FROM countries WHERE code = 'PT'") == [(5,)]


def test_seed_rows_keyed_by_their_own_values_do_not_fail_the_re_apply(project: Path) -> None:
    countries(project, "code CHAR(2) PRIMARY KEY, name VARCHAR(50)")

    round_trip(
        project,
        "UPDATE countries SET name = 'République française' WHERE code = 'FR'",
        "INSERT INTO countries VALUES ('ES', 'Spain')",
    )

    # The archived values win over the seed's: a user's edit between apply and rollback survives.
    assert rows(project, "countries", "code") == [
        ("DE", "Germany"),
        ("ES", "Spain"),
        ("FR", "République française"),
        ("IT", "Italy"),
    ]


def test_a_row_whose_other_unique_key_the_migration_already_made_stays_in_the_archive(project: Path) -> None:
    countries(project, f"id {auto_id(project)}, code CHAR(2) NOT NULL UNIQUE, name VARCHAR(50)")

    # FR is deleted and entered again by a user: id 4. The re-apply's seed makes FR with id 1.
    again = round_trip(
        project,
        "DELETE FROM countries WHERE code = 'FR'",
        "INSERT INTO countries (code, name) VALUES ('FR', 'France (again)')",
    )

    assert rows(project, "countries") == [(1, "FR", "France"), (2, "DE", "Germany"), (3, "IT", "Italy")]
    (step,) = again.migrations[0].archives
    archive = "_mm_archive_20240101000000_d1_countries"
    assert (step.action, step.rows, step.rows_present) == ("restore", 2, 2)
    assert step.note == (
        "2 of these rows were already made by the migration's own statements: they were given "
        "their archived values; 1 archived row(s) not put back: a row of countries made by the "
        f"migration has the same unique key; the archive {archive} keeps them"
    )
    assert archive_tables(project) == {archive}
    assert events(project)[-1]["action"] == "archive-kept"
    assert query(project, f"SELECT id, code, name FROM {archive} WHERE code = 'FR'") == [(4, "FR", "France (again)")]


def test_table_without_key_filled_by_the_migration_keeps_its_archive_and_says_why(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "log",
        ["CREATE TABLE log (at VARCHAR(20), line VARCHAR(50))", "INSERT INTO log VALUES ('t0', 'installed')"],
        "DROP TABLE log",
    )

    again = round_trip(project, "INSERT INTO log VALUES ('t1', 'user line')")

    assert query(project, "SELECT at, line FROM log") == [("t0", "installed")]  # one apply's rows, no duplicate
    (step,) = again.migrations[0].archives
    archive = "_mm_archive_20240101000000_d1_log"
    assert step.action == "not-restored"
    assert step.note == (
        f"log has no key and the migration's own statements already put rows in it: the 2 "
        f"archived rows cannot be told apart from them, so none is added; the archive {archive} "
        f"is kept (compare it with log and insert the missing rows by hand)"
    )
    assert query(project, f"SELECT COUNT(*) FROM {archive}") == [(2,)]


def test_drop_column_values_come_back_before_the_ups_backfill_runs_on_them(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "people",
        [
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO people VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')",
        ],
        "DROP TABLE people",
    )
    apply(project)
    write(
        project,
        "20240102000000",
        "nick",
        ["ALTER TABLE people ADD COLUMN nick VARCHAR(20)", "UPDATE people SET nick = name WHERE nick IS NULL"],
        "ALTER TABLE people DROP COLUMN nick",
    )

    round_trip(
        project, "UPDATE people SET nick = 'Bobby' WHERE id = 2", "INSERT INTO people (id, name) VALUES (4, 'dee')"
    )

    # The user's nick survives (the backfill only fills NULLs); row 4, NULL when archived, is backfilled.
    assert rows(project, "people") == [(1, "ann", "ann"), (2, "bob", "Bobby"), (3, "cy", "cy"), (4, "dee", "dee")]


def test_an_unconditional_backfill_is_not_undone_by_the_restore(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "people",
        [
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO people VALUES (1, 'ann'), (2, 'bob')",
        ],
        "DROP TABLE people",
    )
    apply(project)
    write(
        project,
        "20240102000000",
        "upper",
        ["ALTER TABLE people ADD COLUMN shout VARCHAR(20)", "UPDATE people SET shout = UPPER(name)"],
        "ALTER TABLE people DROP COLUMN shout",
    )

    round_trip(project, "INSERT INTO people (id, name) VALUES (3, 'cy')")  # shout NULL when archived

    assert rows(project, "people") == [(1, "ann", "ANN"), (2, "bob", "BOB"), (3, "cy", "CY")]
