"""Shared pieces of the simulation tests: migration files from SQL, and running them on the server
to check that what the simulation predicts is what the server does."""

from __future__ import annotations

from pathlib import Path

from migration_manager.analysis.schema import read_schema
from migration_manager.analysis.simulate import simulate
from migration_manager.migrations.formats import read_file


def write_migrations(directory: Path, dialect: str, scripts: list[tuple[str, str | None]]) -> list:
    """Native migration files 1_m1.sql, 2_m2.sql ... from (up, down) SQL; read back as Migrations."""
    directory.mkdir(parents=True, exist_ok=True)
    migrations = []
    for number, (up, down) in enumerate(scripts, start=1):
        path = directory / f"{number}_m{number}.sql"
        path.write_text(f"-- UP\n{up}\n" + (f"-- DOWN\n{down}\n" if down is not None else ""))
        migrations.append(read_file(path, dialect))
    return migrations


def first_failure(engine, migrations, direction: str = "up") -> tuple[str, int, str] | None:
    """Run the scripts statement by statement; (version, statement index, error) of the first failure."""
    for migration in migrations:
        script = migration.up if direction == "up" else migration.down
        for index, statement in enumerate(script.statements, start=1):
            try:
                engine.execute(statement)
            except Exception as exc:  # noqa: BLE001 - any server refusal is what we look for
                return migration.version, index, str(exc)
    return None


def shape_after_up_and_down(engine, migration) -> tuple[dict, dict]:
    """The live schema's shape before, and after the migration's UP then DOWN ran on the server."""
    before = read_schema(engine).shape()
    assert first_failure(engine, [migration], "up") is None
    assert first_failure(engine, [migration], "down") is None
    return before, read_schema(engine).shape()


def assert_good_set_runs_clean(engine, directory: Path, dialect: str, scripts) -> None:
    """No finding for these migrations, and on the server each DOWN undoes its UP, as the simulation says."""
    migrations = write_migrations(directory, dialect, scripts)
    assert simulate(read_schema(engine), migrations) == []
    for migration in migrations:
        before, after = shape_after_up_and_down(engine, migration)
        assert before == after, "the simulation said DOWN undoes UP: so must the server"


def assert_error_is_the_statement_the_server_refuses(engine, directory: Path, dialect: str, scripts, rule: str) -> None:
    migrations = write_migrations(directory, dialect, scripts)
    errors = [f for f in simulate(read_schema(engine), migrations) if f.severity == "error"]
    assert errors and errors[0].rule == rule, errors
    failed = first_failure(engine, migrations)
    assert failed is not None, "the server ran what the simulation called an error"
    assert (errors[0].migration, errors[0].statement_index) == failed[:2], failed
