"""PostgreSQL sends a transactional migration's statements together (pipeline mode): BEGIN and every statement in
one round trip, the history row, its event and COMMIT in one more. Counted on the wire, and what a failure leaves."""

from __future__ import annotations

import psycopg
import pytest

from dbcheck import Project, query, user_tables
from roundtrips import one_then_eleven


def test_postgres_migration_takes_two_round_trips(pg_url: str, project: Project) -> None:
    project.url = pg_url
    one, eleven = one_then_eleven(project, pg_url)
    # The rest of an apply (lock, history read, schema read) is the same for 1 or 11 migrations; one by one, each
    # migration took 7 (BEGIN, 3 statements, history row, event, COMMIT). (On tables the apply created, as here,
    # consecutive migrations now share round trips: test_sent_together.py.)
    assert (eleven - one) / 10 <= 2, (one, eleven)
    assert query(pg_url, "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 't%%_label'") == [(13,)]


@pytest.fixture
def engine(pg_url: str):
    from migration_manager.dialects import open_engine

    engine = open_engine(pg_url)
    yield engine
    engine.close()


def test_failing_statement_is_named_and_nothing_commits(engine, pg_url: str) -> None:
    from migration_manager.dialects.base import BatchFailed

    recorded = []
    with pytest.raises(BatchFailed) as failed:
        engine.run_transaction(
            ["CREATE TABLE a (id integer)", "INSERT INTO missing VALUES (1)", "CREATE TABLE c (id integer)"],
            lambda: recorded.append(True),
        )
    assert failed.value.index == 2 and failed.value.cause.sqlstate == "42P01"  # undefined_table
    assert 'relation "missing" does not exist' in str(failed.value.cause)
    assert recorded == [] and user_tables(pg_url) == set()  # statement 1 rolled back, 3 never ran
    # The session is out of the failed transaction and runs the next migration.
    engine.run_transaction(["CREATE TABLE a (id integer)"], lambda: engine.execute("INSERT INTO a VALUES (%s)", [7]))
    assert query(pg_url, "SELECT id FROM a") == [(7,)]


def test_failing_record_commits_nothing(engine, pg_url: str) -> None:
    with pytest.raises(psycopg.errors.UndefinedTable):
        engine.run_transaction(
            ["CREATE TABLE a (id integer)"], lambda: engine.execute("INSERT INTO no_history VALUES (%s)", [1])
        )
    assert user_tables(pg_url) == set()
    assert engine.query("SELECT 1") == [(1,)]  # not left inside the failed transaction


def test_failing_statement_is_named_however_fast_the_server_answers(engine, pg_url: str) -> None:
    """A server may answer a statement before its execute returns (a busy client: here a thread holding the GIL):
    the error then comes out of that statement's own execute, and it is still that statement's failure, not a
    history write's (seen under load as "Recording ... in the history table failed")."""
    import threading

    from migration_manager.dialects.base import BatchFailed

    engine.execute("CREATE TABLE knob (id integer PRIMARY KEY)")
    engine.execute("INSERT INTO knob VALUES (1)")
    statements = ["CREATE TABLE h1 (id integer)", "CREATE TABLE h2 (id integer)", "INSERT INTO knob VALUES (1)"]
    busy = threading.Event()

    def spin() -> None:
        while not busy.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        named = []
        for _ in range(150):
            with pytest.raises(BatchFailed) as failed:
                engine.run_transaction([*statements, "CREATE TABLE h3 (id integer)"], lambda: None)
            named.append((failed.value.index, failed.value.cause.sqlstate))
    finally:
        busy.set()
        spinner.join()
    assert set(named) == {(3, "23505")}  # unique_violation, on statement 3 every time
    assert user_tables(pg_url) == {"knob"}
