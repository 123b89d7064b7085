"""`db-migrate apply` killed with SIGKILL while a migration's statement runs, then recovery.

PostgreSQL and SQLite: the migration's transaction dies with the process (PostgreSQL cancels the
orphaned statement within a second: client_connection_check_interval), the lock is free, nothing is
half-applied, and the next apply applies the migration exactly once.
MariaDB: DDL has committed statement by statement. The server keeps running the killed client's
statement to its end (here: an UPDATE waiting for a row lock), and that session keeps the migration
lock until then; afterwards the history says dirty at statement k, every command refuses, and
`resolve --retry` finishes the migration.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from dbcheck import Project, connect, events, history, query, user_tables, wait_for

# Statement 2 runs until the test lets it go; re-run with the knob at 0 it returns at once.
PG_SLOW = "SELECT pg_sleep(secs) FROM knob;"
SQLITE_SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < (SELECT secs FROM knob)) "
    "SELECT count(*) FROM c;"
)


def kill(run: subprocess.Popen) -> None:
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    run.communicate()
    assert run.returncode == -signal.SIGKILL


def three_steps(project: Project, slow: str) -> None:
    project.native(
        "1",
        "slow",
        f"CREATE TABLE k1 (id integer);\n{slow}\nCREATE TABLE k3 (id integer);",
        "DROP TABLE k3;\nDROP TABLE k1;",
    )


def applied_exactly_once(project: Project, url: str) -> None:
    done = project.run("apply", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "done" and [m["version"] for m in report["migrations"]] == ["1"]
    assert report["migrations"][0]["lock_retries"] == 0  # nothing of the dead run was in the way
    assert user_tables(url) == {"knob", "k1", "k3"}
    assert history(url)["1"][:3] == ("applied", 3, 3)
    assert [e for e in events(url) if e[1] == "apply"] == [("1", "apply", "ok")]
    assert json.loads(project.run("apply", "--json").stdout)["outcome"] == "nothing-to-do"


def nothing_left_behind(project: Project, url: str) -> None:
    assert user_tables(url) == {"knob"}  # statement 1 (CREATE TABLE k1) was rolled back with the rest
    assert history(url) == {}
    status = project.run("status", "--json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert report["dirty"] is False and report["in_progress"] is False and report["current_version"] is None
    assert [m["version"] for m in report["pending"]] == ["1"]


@pytest.mark.xdist_group("processes")
def test_postgres_killed_mid_migration_leaves_nothing_and_reapplies_once(pg_url: str, project: Project) -> None:
    project.url = pg_url
    for sql in ("CREATE TABLE knob (secs integer)", "INSERT INTO knob VALUES (600)"):
        query(pg_url, sql)
    three_steps(project, PG_SLOW)
    run = project.popen("apply")
    backend = wait_for(
        lambda: query(
            pg_url,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'",
        ),
        "the migration's pg_sleep to run",
    )[0][0]
    kill(run)

    # The server notices the dead client during the statement and rolls its transaction back.
    wait_for(
        lambda: not query(pg_url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)),
        "the server to end the killed client's session",
    )
    assert query(
        pg_url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    ) == [(0,)]
    nothing_left_behind(project, pg_url)

    query(pg_url, "UPDATE knob SET secs = 0")
    applied_exactly_once(project, pg_url)


@pytest.mark.xdist_group("processes")
def test_sqlite_killed_mid_migration_leaves_nothing_and_reapplies_once(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    db = Path(sqlite_url.split("///", 1)[1])
    for sql in ("CREATE TABLE knob (secs integer)", "INSERT INTO knob VALUES (1000000000000)"):
        query(sqlite_url, sql)
    three_steps(project, SQLITE_SLOW)
    run = project.popen("apply")
    # The progress line of statement 2 is printed as it starts; the transaction is open by then.
    wait_for(lambda: "2/3 WITH RECURSIVE" in run.stderr.readline(), "statement 2 to start")
    assert Path(f"{db}-journal").exists()
    kill(run)

    import fcntl
    import os

    fd = os.open(f"{db}.migrate-lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone still held the migration lock
    finally:
        os.close(fd)
    nothing_left_behind(project, sqlite_url)  # the hot journal was rolled back by the next reader

    query(sqlite_url, "UPDATE knob SET secs = 1")
    applied_exactly_once(project, sqlite_url)


@pytest.mark.xdist_group("processes")
def test_mariadb_killed_mid_migration_is_dirty_refused_and_retried(mysql_url: str, project: Project) -> None:
    project.url = mysql_url
    # Row-lock waits last as long as the blocker holds the row (a DDL lock wait would give up sooner).
    project.configure({"autoBackup": False, "ddlLockTimeoutMs": 600_000})
    for sql in ("CREATE TABLE knob (secs integer)", "INSERT INTO knob VALUES (0)"):
        query(mysql_url, sql)
    three_steps(project, "UPDATE knob SET secs = 1;")  # idempotent: safe to run again on retry
    blocker = connect(mysql_url)
    blocker.begin()
    blocker.cursor().execute("SELECT * FROM knob FOR UPDATE")
    try:
        run = project.popen("apply")
        session = wait_for(
            lambda: query(
                mysql_url,
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE 'UPDATE knob%%'",
            ),
            "statement 2 to wait for the row",
        )[0][0]
        assert history(mysql_url)["1"][:3] == ("running", 1, 3)
        kill(run)

        # The killed client's UPDATE is still waiting on the server, and its session still holds the lock.
        assert query(mysql_url, "SELECT id FROM information_schema.processlist WHERE id = %s", (session,))
        status = project.run("status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["in_progress"] is True and report["dirty"] is True
        assert f"connection {session}" in report["lock_holder"] and "UPDATE knob SET secs = 1" in report["lock_holder"]
        assert "is being applied right now (1 of 3 statements recorded)" in report["dirty_detail"]
        assert "statement 2 or a later one is still running on the server" in report["dirty_detail"]
        assert "Wait for it" in report["next_action"]
        text = " ".join(project.run("status").stdout.split())
        assert "IN PROGRESS" in text and f"connection {session}" in text

        waited = project.run("apply", "--lock-timeout", "1")
        assert waited.returncode == 7, waited.stdout + waited.stderr
        assert f"held by MariaDB/MySQL connection {session}" in " ".join(waited.stderr.split())
        assert "Nothing was changed by this run" in waited.stderr and "Traceback" not in waited.stderr
    finally:
        blocker.commit()  # the orphaned UPDATE gets its row, commits, and the server drops the session
        blocker.close()
    wait_for(
        lambda: not query(mysql_url, "SELECT id FROM information_schema.processlist WHERE id = %s", (session,)),
        "the server to end the killed client's session",
    )
    # Statement 2 is DML: it runs in one transaction with its history record, so the orphaned UPDATE
    # finished but never committed, and the server rolled it back with the session (not a half-recorded change).
    assert query(mysql_url, "SELECT secs FROM knob") == [(0,)]
    assert user_tables(mysql_url) == {"knob", "k1"}  # statement 1 committed, statement 3 never ran

    status = project.run("status", "--json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert report["dirty"] is True and report["in_progress"] is False and report["lock_holder"] is None
    (dirty,) = [m for m in report["applied"] if m["state"] == "dirty"]
    assert (dirty["status"], dirty["statements_done"], dirty["statements_total"]) == ("running", 1, 3)
    assert (
        "the run stopped without recording its end (its process died or lost its connection) while applying "
        "it (1 of 3 statements done)"
    ) in report["dirty_detail"]
    assert "Statement 2 may or may not have completed on the server" in report["dirty_detail"]

    for command in (["apply"], ["rollback"]):
        refused = project.run(*command)
        assert refused.returncode == 6, command
        assert "1_slow is dirty" in refused.stderr and "resolve 1 --retry" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert user_tables(mysql_url) == {"knob", "k1"}

    retried = project.run("resolve", "1", "--retry")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert user_tables(mysql_url) == {"knob", "k1", "k3"}
    assert query(mysql_url, "SELECT secs FROM knob") == [(1,)]
    assert history(mysql_url)["1"][:3] == ("applied", 3, 3)
    assert [e for e in events(mysql_url) if e[1] == "apply"] == [("1", "apply", "ok")]
    after = json.loads(project.run("status", "--json").stdout)
    assert after["dirty"] is False and after["current_version"] == "1" and after["pending"] == []


ADDITIVE = (
    "CREATE TABLE k1 (id integer);\nALTER TABLE knob ADD COLUMN note varchar(20);\nCREATE INDEX k1_id ON k1 (id);"
)


@pytest.mark.xdist_group("processes")
@pytest.mark.parametrize("orphan", ["completes", "is-cancelled"])
def test_mariadb_killed_between_unrecorded_statements_is_read_from_the_schema(
    mysql_url: str, project: Project, orphan: str
) -> None:
    """Statements that only add tables, columns and indexes are not recorded one by one on MariaDB, and the next
    migration's "running" row commits with the previous one's record (one commit per migration instead of four).
    Killed while statement 2 of migration 2 waits for its table: the history says 0 of 3, and the live schema
    says how far the run got, whether the orphaned statement then completes or is cancelled on the server."""
    project.url = mysql_url
    project.configure({"autoBackup": False, "ddlLockTimeoutMs": 600_000})
    for sql in ("CREATE TABLE knob (secs integer)", "INSERT INTO knob VALUES (0)"):
        query(mysql_url, sql)
    project.native("1", "first", "CREATE TABLE k0 (id integer);", "DROP TABLE k0;")
    project.native("2", "additive", ADDITIVE, "DROP TABLE k1;\nALTER TABLE knob DROP COLUMN note;")
    blocker = connect(mysql_url)
    blocker.begin()
    blocker.cursor().execute("SELECT * FROM knob")  # its metadata lock holds the ALTER back until it commits
    try:
        run = project.popen("apply")
        session = wait_for(
            lambda: query(
                mysql_url,
                "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE 'ALTER TABLE knob%%'",
            ),
            "statement 2 to wait for the table",
        )[0][0]
        assert history(mysql_url)["1"][:3] == ("applied", 1, 1)
        assert history(mysql_url)["2"][:3] == ("running", 0, 3)  # statement 1 ran, its record was left out
        assert user_tables(mysql_url) == {"knob", "k0", "k1"}
        kill(run)
        if orphan == "is-cancelled":
            query(mysql_url, f"KILL {int(session)}")
    finally:
        blocker.commit()  # a completing orphan gets its lock, runs to its end, and the server drops the session
        blocker.close()
    wait_for(
        lambda: not query(mysql_url, "SELECT id FROM information_schema.processlist WHERE id = %s", (session,)),
        "the server to end the killed client's session",
    )
    noted = bool(
        query(
            mysql_url,
            "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = 'knob' AND column_name = 'note'",
        )
    )
    assert noted is (orphan == "completes")

    report = json.loads(project.run("status", "--json").stdout)
    assert report["dirty"] is True and report["in_progress"] is False
    detail = " ".join(report["dirty_detail"].split())
    if orphan == "completes":
        assert "Statements 1..2 of 2_additive are committed (the history recorded 0)" in detail
        assert "statements 1..2 (the last: ALTER TABLE knob ADD COLUMN note varchar(20)) had completed" in detail
        assert "table k1 exists; column knob.note exists (statement 2); index k1_id does not exist (statement 3)" in (
            detail
        )
        assert "records statement 2 as done and continues from statement 3" in detail
    else:
        assert "Statements 1..1 of 2_additive are committed (the history recorded 0)" in detail
        assert "table k1 exists; column knob.note does not exist (statement 2)" in detail
        assert "records statement 1 as done and continues from statement 2" in detail
    refused = project.run("apply")
    assert refused.returncode == 6 and "2_additive is dirty" in refused.stderr

    retried = project.run("resolve", "2", "--retry")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert user_tables(mysql_url) == {"knob", "k0", "k1"}
    assert query(
        mysql_url,
        "SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'k1'",
    ) == [("k1_id",)]
    assert history(mysql_url)["2"][:3] == ("applied", 3, 3)
    assert [e[:2] for e in events(mysql_url)] == [("1", "apply"), ("2", "recovered"), ("2", "apply")]
    after = json.loads(project.run("status", "--json").stdout)
    assert after["dirty"] is False and after["current_version"] == "2" and after["pending"] == []
