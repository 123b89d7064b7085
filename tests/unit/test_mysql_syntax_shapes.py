"""MariaDB/MySQL syntax check of bulk loads: sqlglot parses one statement per shape (its text without the values of
its literals), never trusts a shape it refused, and never takes a quote inside a name or a comment for a literal."""

from __future__ import annotations

import pytest

from migration_manager.dialects.mysql import syntax


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements sqlglot was asked to parse."""
    asked: list[str] = []
    parse = syntax._sqlglot_error

    def counted(statement: str):
        asked.append(statement)
        return parse(statement)

    monkeypatch.setattr(syntax, "_sqlglot_error", counted)
    return asked


def test_insert_rows_of_one_shape_are_parsed_once(parses: list[str]) -> None:
    values = ["1, 'plain', 2.5", "2, 'it''s', 3e2", "3, 'back\\'slash; and \\\\', 0", "40, '', 17.25"]
    with syntax.statement_checker() as error:
        assert [error(f"INSERT INTO `items` (id, name, score) VALUES ({v})") for v in values] == [None] * 4
    assert len(parses) == 1


def test_a_refused_shape_is_parsed_every_time_and_never_accepted(parses: list[str]) -> None:
    with syntax.statement_checker() as error:
        assert error("INSERT INTO items (id, name) VALUES (1, 'a')") is None
        broken = [error(f"INSERT INTO items (id, name) VALUES ({i}, 'row {i}'") for i in range(3)]
        assert error("INSERT INTO items (id, name) VALUES (9, 'b')") is None
    assert all(problem and "Expecting )" in problem[0] for problem in broken), broken
    assert len(parses) == 4  # the first row, each broken one, none for the last row (its shape was accepted)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT `a'b`, 'c' FROM t", "SELECT `a'x`, 'c' FROM t"),  # a backticked name is kept whole
        ("SELECT 1 -- it's\n, 'x'", "SELECT 1 -- it'z\n, 'x'"),  # so is a comment
        ("SELECT x'1F'", "SELECT x'ZZ'"),  # a prefixed string's text may matter
        ("SELECT t1.c FROM t1", "SELECT t2.c FROM t2"),  # digits in a name are not a number
    ],
)
def test_only_the_values_of_literals_are_taken_out(first: str, second: str) -> None:
    shape = syntax._LITERALS.sub
    assert shape(syntax._placeholder, first) != shape(syntax._placeholder, second)


def test_malformed_insert_among_thousands_of_its_shape_is_named() -> None:
    rows = [f"INSERT INTO items (id, name) VALUES ({i}, 'name {i}')" for i in range(1, 2001)]
    rows[999] = "INSERT INTO items (id, name) VALUES (1000, 'name 1000'"
    with syntax.statement_checker() as error:
        problems = [(index, error(row)) for index, row in enumerate(rows, start=1)]
    assert [index for index, problem in problems if problem] == [1000]
