"""PostgreSQL: consecutive migrations on tables the same apply creates are sent together (pipeline mode, each its own
transaction with its history row, none waiting for the one before). Counted on the wire; what a failure, a lost
session and a migration on a live table leave."""

from __future__ import annotations

import json
import threading
from functools import partial
from pathlib import Path

import psycopg
import pytest

from dbcheck import Project, events, history, query, user_tables
from roundtrips import one_then_eleven, three_statements


def test_migrations_on_new_tables_share_round_trips(pg_url: str, project: Project) -> None:
    project.url = pg_url
    one, eleven = one_then_eleven(project, pg_url)
    # One by one a migration takes two round trips (statements, then record and COMMIT); eleven sent together share
    # one, plus one to read back the durations their history rows recorded.
    assert eleven - one <= 3, (one, eleven)
    # The server timed each one: when its transaction began, how long it ran.
    timed = query(
        pg_url,
        "SELECT h.applied_at <= l.at, h.duration_ms >= 0, l.duration_ms >= 0 FROM schema_migrations h "
        "JOIN schema_migrations_log l USING (version) WHERE version >= '003'",
    )
    assert timed == [(True, True, True)] * 11


def test_the_report_says_which_went_together(pg_url: str, project: Project) -> None:
    """A migration on a table that was there before runs on its own (its progress live), between two spans."""
    project.url = pg_url
    query(pg_url, "CREATE TABLE live (id integer PRIMARY KEY)")
    query(pg_url, "INSERT INTO live SELECT generate_series(1, 50)")
    for i in (1, 2, 3):
        project.native(f"00{i}", f"t{i}", three_statements(i))
    project.native("004", "live_note", "ALTER TABLE live ADD COLUMN note text;")
    for i in (5, 6):
        project.native(f"00{i}", f"t{i}", three_statements(i))
    done = project.run("apply")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.strip() for line in done.stderr.splitlines() if "Applying" in line]
    assert lines == [
        "→ [1/6] Applying 001_t1 (transaction, sent together)",
        "→ [2/6] Applying 002_t2 (transaction, sent together)",
        "→ [3/6] Applying 003_t3 (transaction, sent together)",
        "→ [4/6] Applying 004_live_note (transaction)",
        "→ [5/6] Applying 005_t5 (transaction, sent together)",
        "→ [6/6] Applying 006_t6 (transaction, sent together)",
    ], done.stderr
    report = json.loads(project.run("apply", "--json").stdout)  # nothing left: the history says so
    assert report["outcome"] == "nothing-to-do"
    assert query(pg_url, "SELECT count(note) FROM live") == [(0,)] and len(history(pg_url)) == 6


def test_a_failure_mid_span_keeps_the_ones_before_and_runs_none_after(pg_url: str, project: Project) -> None:
    project.url = pg_url
    for i in range(1, 7):
        project.native(f"00{i}", f"t{i}", three_statements(i), f"DROP TABLE t{i};")
    # Only the server knows: 'soon' is no integer (the checks read the SQL, not the values' types).
    project.native("004", "t4", "CREATE TABLE t4 (id integer);\nALTER TABLE t4 ADD COLUMN at integer DEFAULT 'soon';")
    done = project.run("apply", "--json")
    report = json.loads(done.stdout)
    assert done.returncode != 0 and report["outcome"] == "failed"
    # autoOnFailure (on by default) rolled back, with their DOWNs, the three that were applied before it.
    assert [r["status"] for r in report["migrations"]] == ["rolled-back"] * 3 + ["failed"] + ["planned"] * 2
    failed = report["migrations"][3]
    assert [s["status"] for s in failed["statements"]] == ["done", "failed"]
    assert 'invalid input syntax for type integer: "soon"' in failed["error"]
    assert "transaction was rolled back" in report["error"]["state"]
    assert user_tables(pg_url) == set() and history(pg_url) == {}  # t5 and t6 never ran
    assert events(pg_url) == [(f"00{i}", "apply", "ok") for i in (1, 2, 3)] + [("004", "apply", "failed")] + [
        (f"00{i}", "rollback", "ok") for i in (3, 2, 1)
    ]
    # Fixed, the next apply runs what is left.
    project.native("004", "t4", "CREATE TABLE t4 (id integer);\nALTER TABLE t4 ADD COLUMN at integer DEFAULT 7;")
    assert project.run("apply").returncode == 0
    assert user_tables(pg_url) == {f"t{i}" for i in range(1, 7)} and len(history(pg_url)) == 6


def test_without_auto_rollback_the_ones_before_stay_applied(pg_url: str, project: Project) -> None:
    project.url = pg_url
    project.configure({"rollback": {"autoOnFailure": False}})
    for i in (1, 2, 3):
        project.native(f"00{i}", f"t{i}", three_statements(i))
    project.native("002", "t2", "CREATE TABLE t2 (id integer);\nALTER TABLE t2 ADD COLUMN at integer DEFAULT 'soon';")
    report = json.loads(project.run("apply", "--json").stdout)
    assert [r["status"] for r in report["migrations"]] == ["applied", "failed", "planned"]
    assert isinstance(report["migrations"][0]["duration_ms"], int)
    assert user_tables(pg_url) == {"t1"} and set(history(pg_url)) == {"001"}


# ---- the engine: Engine.run_transactions --------------------------------------------------------------------
@pytest.fixture
def engine(pg_url: str):
    from migration_manager.dialects import open_engine

    engine = open_engine(pg_url)
    yield engine
    engine.close()


def _transactions(engine, *scripts: list[str], record_into: str = "done"):
    """One transaction per script, each recording its number into `record_into`."""
    from migration_manager.dialects.base import Transaction

    def record(number: int) -> None:
        engine.execute(f"INSERT INTO {record_into} VALUES (%s)", [number])

    return [Transaction(statements, partial(record, n)) for n, statements in enumerate(scripts, start=1)]


@pytest.fixture
def recording(engine):
    engine.execute("CREATE TABLE done (n integer)")
    return engine


def test_engine_stops_at_the_first_error(recording, pg_url: str) -> None:
    from migration_manager.dialects.base import BatchFailed

    heard = []
    with pytest.raises(BatchFailed) as failed:
        recording.run_transactions(
            _transactions(
                recording,
                ["CREATE TABLE a (id integer)"],
                ["CREATE TABLE b (id integer)", "INSERT INTO missing VALUES (1)"],
                ["CREATE TABLE c (id integer)"],
            ),
            heard.append,
        )
    assert (failed.value.transaction, failed.value.index, failed.value.cause.sqlstate) == (1, 2, "42P01")
    assert user_tables(pg_url) == {"done", "a"} and query(pg_url, "SELECT n FROM done") == [(1,)]
    assert heard and heard[-1] == 1  # the first committed, and was heard of
    assert recording.query("SELECT 1") == [(1,)]  # out of the failed transaction, ready for the next


def test_engine_names_a_failing_record(recording, pg_url: str) -> None:
    from migration_manager.dialects.base import BatchFailed

    with pytest.raises(BatchFailed) as failed:
        recording.run_transactions(
            _transactions(
                recording, ["CREATE TABLE a (id integer)"], ["CREATE TABLE b (id integer)"], record_into="nowhere"
            )
        )
    assert (failed.value.transaction, failed.value.index) == (0, 0)  # transaction 1's record, not a statement
    assert isinstance(failed.value.cause, psycopg.errors.UndefinedTable)
    assert user_tables(pg_url) == {"done"}


def test_engine_session_ended_mid_span(recording, pg_url: str) -> None:
    """The session is terminated while the second transaction runs: the first is committed, the rest is not, and
    the failure names the statement that was running."""
    from migration_manager.dialects.base import BatchFailed

    def terminate() -> None:
        sleeping = []
        while not sleeping:
            sleeping = query(
                pg_url,
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' AND state = 'active'",
            )
        query(pg_url, f"SELECT pg_terminate_backend({sleeping[0][0]})")

    killer = threading.Thread(target=terminate)
    killer.start()
    with pytest.raises(BatchFailed) as failed:
        recording.run_transactions(
            _transactions(
                recording,
                ["CREATE TABLE a (id integer)"],
                ["CREATE TABLE b (id integer)", "SELECT pg_sleep(60)", "CREATE TABLE c (id integer)"],
                ["CREATE TABLE d (id integer)"],
            )
        )
    killer.join()
    assert (failed.value.transaction, failed.value.index) == (1, 2)
    assert not recording.is_connected()
    assert user_tables(pg_url) == {"done", "a"} and query(pg_url, "SELECT n FROM done") == [(1,)]


# ---- which migrations go together ---------------------------------------------------------------------------
def _verdicts(*ups: str, existing: frozenset[str] = frozenset()) -> list[bool]:
    from migration_manager.migrations.model import Migration, Script
    from migration_manager.migrations.sqltext import split
    from migration_manager.service.sent_together import on_new_tables

    migrations = [
        Migration(
            f"{i:03d}", f"m{i}", Path(f"{i:03d}_m{i}.sql"), "native", Script(tuple(split(up, "postgres"))), None, ""
        )
        for i, up in enumerate(ups, start=1)
    ]
    return on_new_tables(migrations, "postgres", set(existing))


def test_only_migrations_on_tables_the_plan_created_go_together() -> None:
    assert _verdicts(
        "CREATE TABLE a (id integer PRIMARY KEY)",
        "ALTER TABLE a ADD COLUMN b integer; CREATE INDEX a_b ON a (b)",
        "CREATE TABLE c (id integer, a_id integer REFERENCES a (id))",
        "ALTER TABLE c ADD CONSTRAINT c_a FOREIGN KEY (a_id) REFERENCES a (id)",
    ) == [True, True, True, True]
    live = frozenset({"live"})
    assert _verdicts("ALTER TABLE live ADD COLUMN b integer", existing=live) == [False]
    assert _verdicts("CREATE TABLE IF NOT EXISTS live (id integer)", existing=live) == [False]  # there, with rows
    assert _verdicts(
        "CREATE TABLE a (id integer, l integer)",
        "ALTER TABLE a ADD FOREIGN KEY (l) REFERENCES live (id)",
        existing=live,
    ) == [True, False]  # the lock on live: someone else may hold it
    assert _verdicts("CREATE TABLE a (id integer, l integer REFERENCES live (id))", existing=live) == [False]
    assert _verdicts("CREATE TABLE a (id integer PRIMARY KEY, up integer REFERENCES a (id))") == [True]
    assert _verdicts("CREATE TABLE a (id integer) INHERITS (live)", existing=live) == [False]  # locks live
    assert _verdicts("CREATE TABLE a PARTITION OF live FOR VALUES IN (1)", existing=live) == [False]
    assert _verdicts("CREATE TABLE a AS SELECT * FROM live", "ALTER TABLE a ADD COLUMN b integer", existing=live) == [
        False,
        False,  # a copy of live's rows: not empty
    ]
    assert _verdicts("CREATE TABLE a (id integer)", "INSERT INTO a VALUES (1)", "CREATE VIEW v AS SELECT 1") == [
        True,
        False,
        False,
    ]
