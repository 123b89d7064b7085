"""Quoted identifiers with quotes, backticks and Unicode are ordinary input: every command reads them,
and a migration using them applies and rolls back on each database (issue 10, item 8)."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, history, kind, query, user_tables

# (quoted table, quoted column, the table's name in the catalog)
NAMES = {
    "postgres": [('"we""ird"', '"ünï"', 'we"ird'), ('"ünï"', '"we""ird"', "ünï")],
    "sqlite": [('"we""ird"', '"ünï"', 'we"ird'), ('"ünï"', '"we""ird"', "ünï")],
    "mysql": [("`we``ird`", "`ünï`", "we`ird"), ("`ünï`", "`we``ird`", "ünï"), ('`we"ird`', "`a``b`", 'we"ird')],
}


def migration(table: str, column: str) -> tuple[str, str]:
    up = (
        f"CREATE TABLE {table} (id int PRIMARY KEY, {column} varchar(20));\n"
        f"INSERT INTO {table} VALUES (1, 'x');\n"
        f"ALTER TABLE {table} ADD COLUMN b int;\n"
        f"UPDATE {table} SET b = 2 WHERE {column} = 'x';\n"
        f"CREATE INDEX ix_b ON {table} (b);"
    )
    down = f"DROP INDEX ix_b{' ON ' + table if '`' in table else ''};\nALTER TABLE {table} DROP COLUMN b;\nDROP TABLE {table};"
    return up, down


@pytest.mark.parametrize("which", [0, 1, 2])
def test_migration_with_quoted_names_applies_and_rolls_back(any_url: str, project: Project, which: int) -> None:
    names = NAMES[kind(any_url)]
    if which >= len(names):
        pytest.skip("no third name on this database")
    table, column, stored = names[which]
    project.url = any_url
    up, down = migration(table, column)
    project.write("20240101000000_weird.sql", f"-- UP\n{up}\n\n-- DOWN\n{down}\n")

    for args in (["validate"], ["analyze", "--json"], ["apply", "--dry-run"]):
        done = project.run(*args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    analyzed = json.loads(project.run("analyze", "--json").stdout)
    assert analyzed["migrations"][0]["statements"], analyzed

    applied = project.run("apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert stored in user_tables(any_url)
    assert query(any_url, f"SELECT b FROM {table}") == [(2,)]
    assert list(history(any_url)) == ["20240101000000"]

    for args in (["validate"], ["status"], ["rollback", "--dry-run"]):
        done = project.run(*args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    rolled = project.run("rollback", "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert stored not in user_tables(any_url) and history(any_url) == {}
