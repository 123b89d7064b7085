"""The schema simulation on SQLite ends where the server does: the same statements run on a real SQLite
file and read back with read_schema give the snapshot the replay built (nullability, indexes, keys)."""

from __future__ import annotations

import pytest

from dbcheck import execute
from migration_manager.analysis.operations import script_operations
from migration_manager.analysis.schema import Snapshot, read_schema
from migration_manager.analysis.simulate import Replay
from migration_manager.dialects import open_engine
from migration_manager.dialects.sqlite.schema import NAMING

# A primary key is nullable in SQLite unless NOT NULL is written; only a one-column key declared exactly
# INTEGER (not INT, BIGINT or INTEGER PRIMARY KEY DESC) is the rowid, which has no index.
CASES = {
    "integer_key": ["CREATE TABLE a (id INTEGER PRIMARY KEY, name text)"],
    "autoincrement": ["CREATE TABLE a (id integer primary key autoincrement, n int NOT NULL)"],
    "table_level_key": ["CREATE TABLE a (id INTEGER, name text, PRIMARY KEY (id))"],
    "not_null_key_and_unique": ['CREATE TABLE a ("id" INTEGER NOT NULL PRIMARY KEY, u text UNIQUE)'],
    "text_key": ["CREATE TABLE a (code text PRIMARY KEY)"],
    "int_key": ["CREATE TABLE a (id INT PRIMARY KEY)"],
    "bigint_key": ["CREATE TABLE a (id bigint PRIMARY KEY)"],
    "desc_key": ["CREATE TABLE a (id INTEGER PRIMARY KEY DESC)"],
    "composite_key": ["CREATE TABLE a (x integer, y integer, PRIMARY KEY (x, y))"],
    "renamed": ["CREATE TABLE a0 (id INTEGER PRIMARY KEY, code text UNIQUE)", "ALTER TABLE a0 RENAME TO a"],
}


def shape(snapshot: Snapshot) -> dict:
    """What both sides can say: columns' nullability, indexes, primary keys (the reader does not read
    UNIQUE constraints, only their indexes)."""
    return {
        name: (
            {c: column.nullable for c, column in table.columns.items()},
            sorted((i.name, i.columns, i.unique, i.primary) for i in table.indexes.values()),
            sorted(c.columns for c in table.constraints.values() if c.kind == "primary_key"),
        )
        for name, table in snapshot.tables.items()
    }


@pytest.mark.parametrize("case", CASES)
def test_simulated_snapshot_matches_the_real_sqlite(sqlite_url: str, case: str) -> None:
    statements = CASES[case]
    for statement in statements:
        execute(sqlite_url, statement)
    engine = open_engine(sqlite_url)
    try:
        real = read_schema(engine)
    finally:
        engine.close()
    replay = Replay(Snapshot("sqlite", NAMING))
    replay.run(script_operations(statements, "sqlite"))
    assert replay.findings == []
    assert shape(replay.schema) == shape(real)
