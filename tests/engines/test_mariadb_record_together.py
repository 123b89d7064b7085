"""MariaDB: a migration's final record (history row, event, the next migration's running row) goes with BEGIN and
COMMIT in one multi-statement round trip. Counted on the wire, and what a failure in the middle leaves."""

from __future__ import annotations

import pymysql
import pytest

from dbcheck import Project, history, query, user_tables
from roundtrips import one_then_eleven


def test_mariadb_migration_takes_a_round_trip_per_statement_and_one_for_its_record(
    mysql_url: str, project: Project
) -> None:
    project.url = mysql_url
    project.configure({"autoBackup": False})
    one, eleven = one_then_eleven(project, mysql_url)
    # One by one, each migration took 11: history row, 3 statements each followed by its progress record, then
    # BEGIN, history row, event, COMMIT. (On tables the apply created, as here, statements and record now go in
    # one: test_mariadb_at_once.py.)
    assert (eleven - one) / 10 <= 4, (one, eleven)


@pytest.fixture
def engine(mysql_url: str):
    from migration_manager.dialects import open_engine

    engine = open_engine(mysql_url)
    engine.execute("CREATE TABLE h (id integer PRIMARY KEY, note varchar(100))")
    yield engine
    engine.close()


def test_values_are_sent_as_written(engine) -> None:
    tricky = "it's 100% \\ ünïcode; COMMIT; --"
    engine.record_together(lambda: engine.execute("INSERT INTO h VALUES (%s, %s)", [1, tricky]))
    assert engine.query("SELECT id, note FROM h") == [(1, tricky)]


def test_a_failing_write_commits_nothing_and_the_session_goes_on(engine) -> None:
    def record() -> None:
        engine.execute("INSERT INTO h VALUES (%s, %s)", [1, "first"])
        engine.execute("INSERT INTO h VALUES (%s, %s)", [1, "duplicate"])
        engine.execute("INSERT INTO h VALUES (%s, %s)", [2, "never runs"])

    with pytest.raises(pymysql.err.IntegrityError, match="Duplicate entry"):
        engine.record_together(record)
    assert engine.query("SELECT count(*) FROM h") == [(0,)]  # same session: usable, nothing left open
    assert query(engine.url.raw, "SELECT count(*) FROM h") == [(0,)]


def test_a_query_inside_is_refused_before_anything_is_sent(engine) -> None:
    def record() -> None:
        engine.execute("INSERT INTO h VALUES (%s, %s)", [1, "queued"])
        engine.query("SELECT count(*) FROM h")

    with pytest.raises(RuntimeError, match="only writes"):
        engine.record_together(record)
    assert engine.query("SELECT count(*) FROM h") == [(0,)]


def test_the_next_running_row_is_not_written_ahead_of_an_online_strategy(mysql_url: str, project: Project) -> None:
    """One apply: a plain migration, one whose online strategy runs in phases (they write its history row
    themselves, so the plain one's final record does not write it ahead), and a plain one again: each recorded once,
    with its own status."""
    project.url = mysql_url
    project.configure({"autoBackup": False})
    query(mysql_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    query(mysql_url, "INSERT INTO users VALUES (1, 'a'), (2, 'b')")
    project.native("1", "plain", "CREATE TABLE t1 (id integer);", "DROP TABLE t1;")
    online = project.native(
        "2", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'none';", None
    )
    online.write_text("-- strategy: online\n" + online.read_text())
    project.native("3", "plain", "CREATE TABLE t3 (id integer);", "DROP TABLE t3;")
    done = project.run("apply", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {v: row[0] for v, row in history(mysql_url).items()} == {"1": "applied", "2": "expanded", "3": "applied"}
    assert user_tables(mysql_url) == {"users", "t1", "t3"}
