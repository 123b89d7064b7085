"""A migration statement that waits for a table lock another session holds: after every retry the error
says it is a lock wait, names the blocking session, the state, and how to get through; the event log
records the time really spent."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import psycopg
import pymysql

from dbcheck import Project, execute, history, query

SETTINGS = {"autoBackup": False, "rollback": {"autoOnFailure": False}, "ddlLockRetries": 1}


def blocker(url: str):
    """A session of another application holding an open transaction that has read table t."""
    if url.startswith("postgresql"):
        conn = psycopg.connect(url, application_name="mm-blocker")
        conn.execute("SELECT * FROM t").fetchall()
        return conn, conn.info.backend_pid
    parts = urlsplit(url)
    conn = pymysql.connect(
        host=parts.hostname, port=parts.port, user=parts.username or "root", database=parts.path.lstrip("/")
    )
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("SELECT * FROM t")
        cur.execute("SELECT CONNECTION_ID()")
        return conn, cur.fetchone()[0]


def failed_event_ms(url: str) -> int:
    return query(url, "SELECT duration_ms FROM schema_migrations_log WHERE outcome = 'failed'")[0][0]


def start(project: Project, url: str, lock_timeout_ms: int) -> None:
    project.url = url
    project.configure(SETTINGS | {"ddlLockTimeoutMs": lock_timeout_ms})
    execute(url, "CREATE TABLE t (id integer)")
    project.native("1", "add_c", "ALTER TABLE t ADD COLUMN c integer;", "ALTER TABLE t DROP COLUMN c;")


def test_postgres_lock_wait_names_the_blocking_session(pg_url: str, project: Project) -> None:
    start(project, pg_url, 200)
    conn, pid = blocker(pg_url)
    try:
        done = project.run("apply")
        text = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 9, text
        assert "it waited for a lock on t held by another session and gave up after 2 tries over" in text, text
        assert "(lock timeout 200 ms per try)" in text
        assert (
            f"Blocking: PostgreSQL session {pid} (user postgres, application 'mm-blocker', idle in transaction for"
            in text
        ), text
        assert (
            "Database state: Unchanged for 1_add_c: its transaction was rolled back, nothing of it is committed" in text
        )
        assert (
            "When the blocking session has finished (or after ending it on the server), run the command again" in text
        )
        assert "ddlLockTimeoutMs (now 200) or ddlLockRetries (now 1)" in text and "Fix the migration" not in text
        assert failed_event_ms(pg_url) >= 400  # two waits of 200 ms and a backoff, not 0
        report = json.loads(project.run("apply", "--json").stdout)
        assert report["error"]["error"] == "statement_failed" and f"session {pid}" in report["error"]["message"]
    finally:
        conn.close()
    assert list(history(pg_url)) == []
    assert project.run("apply").returncode == 0 and list(history(pg_url)) == ["1"]


def test_mariadb_lock_wait_names_the_blocking_session(mysql_url: str, project: Project) -> None:
    start(project, mysql_url, 1000)
    conn, session = blocker(mysql_url)
    try:
        done = project.run("apply")
        text = " ".join((done.stdout + done.stderr).split())
        assert done.returncode == 9, text
        assert "it waited for a lock on t held by another session and gave up after 2 tries over" in text, text
        # Without metadata_lock_info every open transaction on the server is named: a parallel test's may come first
        assert "Blocking: MariaDB/MySQL connection " in text, text
        assert f"MariaDB/MySQL connection {session} (user root@" in text.split("Blocking: ", 1)[1], text
        assert (
            "DIRTY: 1_add_c stopped at statement 1 of 1 (apply); no statement was committed, 1..1 did not run" in text
        ), text
        assert "has finished (or after ending it on the server), `db-migrate resolve 1 --retry`" in text, text
        assert "ddlLockTimeoutMs (now 1000) or ddlLockRetries (now 1)" in text and "Fix the" not in text
        assert failed_event_ms(mysql_url) >= 2000
    finally:
        conn.close()
    assert history(mysql_url)["1"][:2] == ("failed", 0)
    done = project.run("resolve", "1", "--retry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert history(mysql_url)["1"][:3] == ("applied", 1, 1)
