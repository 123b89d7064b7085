"""The DOWN check judges DOWNs as a rollback runs them (issue 11): generated histories ship DOWNs shifted by
one file (the DOWN of a version undoes a neighbour's UP, some DOWN files empty), which only the whole
reverse sequence matches. No warning for those; a genuinely wrong DOWN is still one. Each case runs on
the server too: all UPs, then every DOWN file in reverse, as the raw client would."""

from __future__ import annotations

import pytest

from migration_manager.analysis.schema import read_schema
from migration_manager.analysis.simulate import simulate
from migration_manager.dialects import open_engine
from migration_manager.migrations.formats import read_directory

# (UP, DOWN) per version: each DOWN undoes the UP of the version after it; the last DOWN file is empty.
SHIFTED = [
    ("CREATE TABLE people (id int PRIMARY KEY, name varchar(40));", "DROP TABLE people;"),
    ("CREATE TABLE pets (id int PRIMARY KEY, owner_id int);", "DROP TABLE pets;"),
    ("CREATE INDEX pets_owner_idx ON pets (owner_id);", "ALTER TABLE people DROP COLUMN nick;"),
    ("ALTER TABLE people ADD COLUMN nick varchar(40);", "DROP INDEX toys_name_idx{on_toys};\nDROP TABLE toys;"),
    ("CREATE TABLE toys (id int PRIMARY KEY, name varchar(40));", ""),
    ("CREATE INDEX toys_name_idx ON toys (name);", ""),
]


def _write(directory, dialect: str, pairs) -> list:
    """golang-migrate files (a DOWN file even when empty, as generated histories ship them)."""
    directory.mkdir()
    on_toys = "" if dialect != "mysql" else " ON toys"
    for number, (up, down) in enumerate(pairs, start=1):
        (directory / f"{number}_step.up.sql").write_text(up + "\n")
        (directory / f"{number}_step.down.sql").write_text(down.replace("{on_toys}", on_toys) + "\n")
    return read_directory(directory, dialect)


def _rollback_on_server(engine, directory) -> None:
    """Every UP file in order, then every DOWN file in reverse, statement by statement."""
    migrations = read_directory(directory, engine.dialect)
    for migration in migrations:
        for statement in migration.up.statements:
            engine.execute(statement)
    for path in sorted(directory.glob("*.down.sql"), key=lambda p: int(p.name.split("_")[0]), reverse=True):
        for statement in path.read_text().split(";"):
            if statement.strip():
                engine.execute(statement)


def test_shifted_downs_that_undo_the_ups_together_are_no_warning(any_url, tmp_path):
    engine = open_engine(any_url)
    try:
        dialect = engine.dialect
        migrations = _write(tmp_path / "m", dialect, SHIFTED)
        findings = simulate(read_schema(engine), migrations)
        assert [(f.rule, f.severity) for f in findings] == [("down-undoes-group", "info")]
        assert "(2..6)" in findings[0].message  # version 1's own DOWN undoes its UP
        _rollback_on_server(engine, tmp_path / "m")
        assert read_schema(engine).shape() == {}, "the server restores the empty schema too"
    finally:
        engine.close()


def test_a_wrong_down_among_shifted_ones_is_still_a_warning(any_url, tmp_path):
    """Version 4's DOWN forgets the toys table: no point of the rollback gets back to a schema the UPs
    went through, so each pair's own findings stand, and the server leaves the table behind."""
    engine = open_engine(any_url)
    try:
        dialect = engine.dialect
        wrong = [*SHIFTED[:3], (SHIFTED[3][0], "DROP INDEX toys_name_idx{on_toys};"), *SHIFTED[4:]]
        findings = simulate(read_schema(engine), _write(tmp_path / "m", dialect, wrong))
        warned = {(f.rule, f.migration) for f in findings if f.severity == "warning"}
        assert ("down-does-not-undo", "4") in warned
        assert not any(f.rule == "down-undoes-group" for f in findings)
        _rollback_on_server(engine, tmp_path / "m")
        assert set(read_schema(engine).shape()) == {"toys"}
    finally:
        engine.close()


def test_a_down_that_fails_during_the_rollback_is_a_warning(any_url, tmp_path):
    """The group restores the schema, but on the way one DOWN drops an index that is not there any more:
    the server stops the rollback at that statement."""
    engine = open_engine(any_url)
    try:
        dialect = engine.dialect
        on_toys = " ON toys" if dialect == "mysql" else ""
        failing = [
            *SHIFTED[:3],
            (
                SHIFTED[3][0],
                f"DROP INDEX toys_name_idx{on_toys};\nDROP INDEX toys_name_idx{on_toys};\nDROP TABLE toys;",
            ),
            *SHIFTED[4:],
        ]
        findings = simulate(read_schema(engine), _write(tmp_path / "m", dialect, failing))
        assert [(f.rule, f.severity, f.migration, f.statement_index) for f in findings if f.severity == "warning"] == [
            ("schema-missing-index", "warning", "4", 2)
        ]
        with pytest.raises(Exception, match="toys_name_idx"):
            _rollback_on_server(engine, tmp_path / "m")
    finally:
        engine.close()
