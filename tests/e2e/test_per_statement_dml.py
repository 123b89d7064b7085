"""Per-statement mode (MariaDB, or a PostgreSQL `-- no-transaction` file): a DML statement commits in one
transaction with its progress record, and a lock timeout on it rolls both back and is retried."""

from __future__ import annotations

import json
import time

import pytest

from dbcheck import Project, connect, events, history, query, wait_for

WAITING = {
    "postgres": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE counter%%'",
    "mysql": "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
    "AND info LIKE 'UPDATE counter%%'",
}


@pytest.fixture(params=["postgres", "mysql"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue({"postgres": "pg_url", "mysql": "mysql_url"}[request.param])


@pytest.mark.xdist_group("processes")
def test_dml_waiting_on_a_row_lock_is_retried_and_recorded_once(url: str, project: Project) -> None:
    project.url = url
    dialect = "postgres" if url.startswith("postgres") else "mysql"
    # 1 s lock waits (MariaDB counts them in whole seconds), retries enough to outlast the blocker.
    project.configure({"autoBackup": False, "ddlLockTimeoutMs": 1000, "ddlLockRetries": 8})
    query(url, "CREATE TABLE counter (n integer)")
    query(url, "INSERT INTO counter VALUES (0)")
    project.native(
        "1",
        "bump",
        "CREATE TABLE bumped (id integer);\nUPDATE counter SET n = n + 1;",
        "DROP TABLE bumped;",
        header="-- no-transaction\n",
    )
    blocker = connect(url)
    cursor = blocker.cursor()
    cursor.execute("BEGIN")
    cursor.execute("SELECT * FROM counter FOR UPDATE")
    try:
        run = project.popen("apply", "--json")
        wait_for(lambda: query(url, WAITING[dialect])[0][0] > 0, "the UPDATE to wait for the row")
        time.sleep(1.5)  # at least one lock timeout, rolled back and retried
        assert history(url)["1"][:2] == ("running", 1)  # the UPDATE is not recorded while it waits
    finally:
        cursor.execute("COMMIT")
        blocker.close()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    report = json.loads(out)
    (migration,) = report["migrations"]
    assert migration["mode"] == "per-statement" and migration["lock_retries"] >= 1
    assert query(url, "SELECT n FROM counter") == [(1,)]  # ran once, however many attempts
    assert history(url)["1"][:3] == ("applied", 2, 2)
    assert [e for e in events(url) if e[1] == "apply"] == [("1", "apply", "ok")]
