"""MariaDB: a migration on tables the same apply created sends its statements and its final record in one
multi-statement round trip (each DDL statement still commits on its own). Counted on the wire; what a failure in the
middle leaves; a migration on a live table still goes statement by statement."""

from __future__ import annotations

import json

import pymysql
import pytest

from dbcheck import Project, events, history, query, user_tables
from roundtrips import RoundTripCounter, counted_apply, one_then_eleven, three_statements


def test_a_migration_on_new_tables_takes_one_round_trip(mysql_url: str, project: Project) -> None:
    project.url = mysql_url
    project.configure({"autoBackup": False})
    one, eleven = one_then_eleven(project, mysql_url)
    # Statement by statement, each took 4: its 3 statements, then its record (with the next one's running row).
    assert (eleven - one) / 10 <= 1, (one, eleven)
    # Timed by the server: the record was written before the statements ran.
    assert query(mysql_url, "SELECT count(*) FROM schema_migrations WHERE duration_ms < 0 OR applied_at IS NULL") == [
        (0,)
    ]


def test_a_failing_statement_leaves_the_ones_before_it_and_a_dirty_row(mysql_url: str, project: Project) -> None:
    project.url = mysql_url
    project.configure({"autoBackup": False, "rollback": {"autoOnFailure": False}})
    project.native("001", "t1", three_statements(1))
    # Only the server knows: a key longer than InnoDB allows (3072 bytes) on a new table.
    project.native(
        "002",
        "wide",
        "CREATE TABLE w (a varchar(1000), b varchar(1000));\nCREATE INDEX w_ab ON w (a, b);\n"
        "ALTER TABLE w ADD COLUMN c integer;",
    )
    done = project.run("apply", "--json")
    report = json.loads(done.stdout)
    assert done.returncode != 0 and report["outcome"] == "failed"
    assert [r["status"] for r in report["migrations"]] == ["applied", "failed"]
    assert [s["status"] for s in report["migrations"][1]["statements"]] == ["done", "failed", "planned"]
    assert "Specified key was too long" in report["migrations"][1]["error"]
    assert "stopped at statement 2 of 3" in report["error"]["state"]
    assert user_tables(mysql_url) == {"t1", "w"}  # statement 1 committed on its own, 3 never ran
    assert query(mysql_url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'w'") == [(2,)]
    assert history(mysql_url)["002"][:2] == ("failed", 1)  # dirty at statement 2: `resolve --retry` goes on
    assert events(mysql_url)[-1] == ("002", "apply", "failed")


def test_a_migration_on_a_live_table_goes_statement_by_statement(mysql_url: str, project: Project) -> None:
    project.url = mysql_url
    project.configure({"autoBackup": False})
    query(mysql_url, "CREATE TABLE live (id integer PRIMARY KEY)")
    counter = RoundTripCounter(mysql_url)
    try:
        counted_apply(project, counter, 1, 1)  # creates the history tables: not counted
        new_table = counted_apply(project, counter, 2, 2)
        project.native("003", "live", "ALTER TABLE live ADD COLUMN a integer;\nALTER TABLE live ADD COLUMN b integer;")
        before = counter.turns
        assert project.run("apply", url=counter.url(project.url)).returncode == 0
        live = counter.turns - before
    finally:
        counter.close()
    # Everything else an apply does is the same: the live table's two statements and its record are three round
    # trips, the new table's three statements and record one.
    assert live - new_table >= 2, (new_table, live)
    assert query(mysql_url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'live'") == [(3,)]


@pytest.fixture
def engine(mysql_url: str):
    from migration_manager.dialects import open_engine

    engine = open_engine(mysql_url)
    engine.execute("CREATE TABLE h (id integer PRIMARY KEY)")
    yield engine
    engine.close()


def test_engine_names_the_failing_statement(engine, mysql_url: str) -> None:
    from migration_manager.dialects.base import BatchFailed

    with pytest.raises(BatchFailed) as failed:
        engine.run_then_record(
            ["CREATE TABLE a (id integer)", "CREATE TABLE a (id integer)", "CREATE TABLE c (id integer)"],
            lambda: engine.execute("INSERT INTO h VALUES (%s)", [1]),
        )
    assert failed.value.index == 2 and failed.value.cause.args[0] == 1050  # table exists
    assert user_tables(mysql_url) == {"h", "a"} and query(mysql_url, "SELECT count(*) FROM h") == [(0,)]
    assert engine.query("SELECT 1") == [(1,)]  # the session goes on


def test_engine_raises_a_failing_record_as_it_is(engine, mysql_url: str) -> None:
    def record() -> None:
        engine.execute("INSERT INTO h VALUES (%s)", [1])
        engine.execute("INSERT INTO h VALUES (%s)", [1])

    with pytest.raises(pymysql.err.IntegrityError, match="Duplicate entry"):
        engine.run_then_record(["CREATE TABLE a (id integer) -- a comment on the last line"], record)
    assert user_tables(mysql_url) == {"h", "a"}  # the statement ran; its record is rolled back whole
    assert query(mysql_url, "SELECT count(*) FROM h") == [(0,)]
