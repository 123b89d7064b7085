"""read_ahead: apply's checks read their statements first, half of them in a forked copy of the process. What it
sends back is what reading them here gives, and it stays out of a process with other threads."""

from __future__ import annotations

import threading

import pytest

from migration_manager.analysis.operations import parse, read_ahead, statement_operations

SHAPES = [
    "CREATE TABLE t{i} (id bigserial PRIMARY KEY, email varchar(100) NOT NULL UNIQUE, at timestamptz DEFAULT now())",
    "ALTER TABLE t{i} ADD COLUMN note text DEFAULT 'x;y' NOT NULL",
    "CREATE UNIQUE INDEX CONCURRENTLY t{i}_email ON t{i} (lower(email))",
    "ALTER TABLE t{i} ADD CONSTRAINT t{i}_fk FOREIGN KEY (id) REFERENCES parent (id) NOT VALID",
    "UPDATE t{i} SET note = 'n' WHERE id < {i}",
    "DROP INDEX IF EXISTS a{i}, b{i}",
    "DO $$ BEGIN PERFORM {i}; END $$",
    "not sql at all {i}",
]


def _statements(tag: str, count: int) -> list[str]:
    """`count` statements of every shape, each new to the parse cache (`tag` in their names)."""
    return [SHAPES[i % len(SHAPES)].format(i=f"{tag}{i}") for i in range(count)]


def _read(statements: list[str]) -> list[list[dict]]:
    return [[op.model_dump() for op in statement_operations(sql, "postgres", n)] for n, sql in enumerate(statements)]


def test_what_the_child_read_is_what_reading_here_gives() -> None:
    statements = _statements("ahead", 400)
    read_ahead(statements, "postgres")
    from_child = dict(parse._read_ahead)
    assert len(from_child) == 200  # the second half, read by the child and not asked for yet
    through_read_ahead = _read(statements)
    assert parse._read_ahead == {}  # each taken once asked
    parse._operations.cache_clear()
    parse._placed.cache_clear()
    assert through_read_ahead == _read(statements)  # read again here, from scratch


def test_no_fork_beside_another_thread_nor_for_a_few_statements() -> None:
    parse._read_ahead.clear()
    read_ahead(_statements("few", parse.READ_AHEAD_FROM - 1), "postgres")
    assert parse._read_ahead == {}
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        read_ahead(_statements("threaded", 400), "postgres")
    finally:
        stop.set()
        other.join()
    assert parse._read_ahead == {}


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_other_dialects_read_ahead_alike(dialect: str) -> None:
    statements = [f"CREATE TABLE {dialect}_t{i} (id integer PRIMARY KEY, label varchar(40))" for i in range(300)]
    read_ahead(statements, dialect)
    assert len(parse._read_ahead) == 150
    assert [op.table for sql in statements for op in statement_operations(sql, dialect)] == [
        f"{dialect}_t{i}" for i in range(300)
    ]
