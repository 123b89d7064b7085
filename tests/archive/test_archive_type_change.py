"""A type change that loses values keeps them: archived by key before, put back when the type is widened again.

What each server actually does with values that do not fit the narrower type:
* PostgreSQL refuses a VARCHAR narrowing with longer values, unless USING cuts them; NUMERIC scale is rounded.
* MariaDB (strict mode) refuses a VARCHAR narrowing with longer values; DECIMAL scale is rounded with a note.
* SQLite has no ALTER COLUMN TYPE: a table is rebuilt (new table, INSERT ... SELECT, DROP, RENAME), so
  the archive is the DROP TABLE's, put back by key when the DOWN's rebuild renames the table into place.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from archive_helpers import apply, archive_tables, events, execute, query, rollback, rows, write

from migration_manager import service

NAMES = ["Alexandra", "Bo", "Christopher", None, "Dmitri"]


def seeded(project: Path, name_type: str = "VARCHAR(100)") -> list[tuple]:
    write(
        project,
        "20240101000000",
        "people",
        f"CREATE TABLE people (id INTEGER PRIMARY KEY, name {name_type}, price NUMERIC(10,2))",
        "DROP TABLE people",
    )
    apply(project)
    values = ", ".join(f"({i}, {'NULL' if n is None else repr(n)}, {i}.75)" for i, n in enumerate(NAMES, start=1))
    execute(project, f"INSERT INTO people (id, name, price) VALUES {values}")
    return rows(project, "people")


def test_postgres_narrowing_with_using_is_undone_with_every_original_value(pg_project: Path) -> None:
    before = seeded(pg_project)
    write(
        pg_project,
        "20240102000000",
        "short_names",
        "ALTER TABLE people ALTER COLUMN name TYPE VARCHAR(5) USING left(name, 5)",
        "ALTER TABLE people ALTER COLUMN name TYPE VARCHAR(100)",
    )

    step = apply(pg_project).migrations[0].archives[0]
    assert (step.action, step.what, step.columns, step.old_type, step.rows) == (
        "archive",
        "values",
        ["name"],
        "character varying(100)",
        5,
    )
    assert query(pg_project, "SELECT name FROM people WHERE id = 3") == [("Chris",)]

    back = rollback(pg_project)

    assert rows(pg_project, "people") == before
    assert [(s.action, s.rows) for s in back.migrations[0].archives] == [("restore", 5)]
    assert archive_tables(pg_project) == set()


def test_numeric_scale_rounding_is_undone_on_postgres_and_mariadb(any_url: str, tmp_path: Path) -> None:
    from archive_helpers import dialect, make_project

    project = make_project(tmp_path / "proj", any_url)
    if dialect(project) == "sqlite":
        return  # no ALTER COLUMN TYPE: covered by the rebuild test
    before = seeded(project)
    alter = (
        "ALTER TABLE people ALTER COLUMN price TYPE NUMERIC({})"
        if dialect(project) == "postgres"
        else "ALTER TABLE people MODIFY price DECIMAL({})"
    )
    write(project, "20240102000000", "whole_prices", alter.format("10,0"), alter.format("10,2"))

    assert apply(project).migrations[0].archives[0].rows == 5
    assert query(project, "SELECT price FROM people WHERE id = 1") == [(Decimal("2"),)]  # 1.75 rounded: lost
    back = rollback(project)

    assert rows(project, "people") == before
    # NUMERIC(10,0) -> (10,2) could overflow a 10-digit value too, so the DOWN archives what it changes as
    # well (kept for a re-apply, which puts it back); the UP's archive was restored and dropped.
    assert [(s.action, s.direction) for s in back.migrations[0].archives] == [("archive", "down"), ("restore", "up")]
    assert archive_tables(project) == {"_mm_archive_20240102000000_d1_people_price"}
    again = apply(project)  # puts the DOWN's archive back, and archives the rounding again
    assert [(s.action, s.direction) for s in again.migrations[0].archives] == [("archive", "up"), ("restore", "down")]
    assert archive_tables(project) == {"_mm_archive_20240102000000_u1_people_price"}


def test_widening_archives_nothing(any_url: str, tmp_path: Path) -> None:
    from archive_helpers import dialect, make_project

    project = make_project(tmp_path / "proj", any_url)
    if dialect(project) == "sqlite":
        return
    seeded(project)
    alter = (
        "ALTER TABLE people ALTER COLUMN name TYPE VARCHAR({})"
        if dialect(project) == "postgres"
        else "ALTER TABLE people MODIFY name VARCHAR({})"
    )
    write(project, "20240102000000", "longer_names", alter.format(200), alter.format(100))

    assert apply(project).migrations[0].archives == []
    assert archive_tables(project) == set()


def test_sqlite_rebuild_that_cuts_values_is_undone_by_key(sqlite_project: Path) -> None:
    before = seeded(sqlite_project)
    rebuild = [
        "CREATE TABLE people_new (id INTEGER PRIMARY KEY, name VARCHAR({n}), price NUMERIC(10,2))",
        "INSERT INTO people_new (id, name, price) SELECT id, {cut}, price FROM people",
        "DROP TABLE people",
        "ALTER TABLE people_new RENAME TO people",
    ]
    up = [s.format(n=5, cut="substr(name, 1, 5)") for s in rebuild]
    down = [s.format(n=100, cut="name") for s in rebuild]
    write(sqlite_project, "20240102000000", "short_names", up, down)

    applied = apply(sqlite_project)
    assert [(s.action, s.what, s.statement_index, s.rows) for s in applied.migrations[0].archives] == [
        ("archive", "table", 3, 5)
    ]
    assert query(sqlite_project, "SELECT name FROM people WHERE id = 3") == [("Chris",)]

    back = rollback(sqlite_project)

    assert rows(sqlite_project, "people") == before
    kinds = [(s.action, s.direction, s.statement_index) for s in back.migrations[0].archives]
    # The DOWN's own DROP TABLE archives the cut values (for a re-apply), then its RENAME puts the originals back.
    assert kinds == [("archive", "down", 3), ("restore", "up", 4)]
    assert archive_tables(sqlite_project) == {"_mm_archive_20240102000000_d3_people"}


def test_mariadb_failure_half_way_leaves_a_consistent_archive(mysql_project: Path) -> None:
    settings = mysql_project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    config["skills"]["migration-manager"]["rollback"] = {"autoOnFailure": False}
    settings.write_text(json.dumps(config))
    before = seeded(mysql_project)
    # Statement 1 drops a column (committed: DDL auto-commits); statement 2 fails in strict mode (names too long).
    write(
        mysql_project,
        "20240102000000",
        "shrink",
        ["ALTER TABLE people DROP COLUMN price", "ALTER TABLE people MODIFY name VARCHAR(5)"],
        ["ALTER TABLE people MODIFY name VARCHAR(100)", "ALTER TABLE people ADD COLUMN price DECIMAL(10,2)"],
    )

    failed = service.apply(service.ApplyRequest(project_dir=mysql_project, env="dev", approved=True))

    assert failed.outcome == "failed" and "Data too long" in failed.message
    run = failed.migrations[0]
    assert [(s.action, s.columns, s.rows) for s in run.archives] == [("archive", ["price"], 5)]
    assert archive_tables(mysql_project) == {"_mm_archive_20240102000000_u1_people_price"}
    assert [(e["action"], e["columns"]) for e in events(mysql_project)] == [
        ("archive", ["price"]),
        ("archive", ["name"]),
        ("archive-discarded", ["name"]),
    ]

    # A human shortens the names by hand, retries, and later rolls the whole migration back.
    execute(mysql_project, "UPDATE people SET name = LEFT(name, 5)")
    retried = service.resolve(
        service.ResolveRequest(
            project_dir=mysql_project, env="dev", version="20240102000000", action="retry", approved=True
        )
    )
    assert retried.outcome == "done", retried.message
    assert [(s.action, s.columns) for s in retried.migrations[0].archives] == [("archive", ["name"])]
    rollback(mysql_project)

    restored = rows(mysql_project, "people")
    assert [r[2] for r in restored] == [r[2] for r in before]  # every price is back
    assert [r[1] for r in restored] == ["Alexa", "Bo", "Chris", None, "Dmitr"]  # as the human left them
    assert archive_tables(mysql_project) == set()
