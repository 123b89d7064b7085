"""16 simultaneous `db-migrate apply` on one database: each migration applied exactly once, the rest wait
for the lock and then find nothing to do."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, connect, events, history, kind, query, wait_for

PROCESSES = 16
SLEEP = {
    "postgres": "SELECT pg_sleep(1);",
    "mysql": "SELECT SLEEP(1);",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
    "SELECT count(*) FROM c;",
}


def write_project(project: Project, dialect: str, slow: str) -> list[str]:
    project.native("1", "log", "CREATE TABLE applied_log (v integer NOT NULL);", "DROP TABLE applied_log;")
    # A slow migration: the other runs are waiting on the lock while it runs.
    project.native("2", "slow", f"{slow}\nINSERT INTO applied_log VALUES (2);", "DELETE FROM applied_log WHERE v = 2;")
    for v in (3, 4):
        project.native(
            str(v),
            f"t{v}",
            f"CREATE TABLE t{v} (id integer);\nINSERT INTO applied_log VALUES ({v});",
            f"DROP TABLE t{v};",
        )
    versions = ["1", "2", "3", "4"]
    if dialect == "postgres":
        # The lock holder runs CREATE INDEX CONCURRENTLY while 15 sessions wait for the lock: a blocking
        # advisory-lock wait would deadlock here (Flyway #1654); polling must not.
        project.native(
            "5",
            "cic",
            "CREATE INDEX CONCURRENTLY t3_id ON t3 (id);",
            "DROP INDEX CONCURRENTLY t3_id;",
            header="-- no-transaction\n",
        )
        versions.append("5")
    return versions


# While the winner's migration 2 waits on a row the test holds, every other run is connected and polling
# for the migration lock (PostgreSQL: its last query is the try-lock; MariaDB: a session on the database).
WAITING = {
    "postgres": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND query LIKE 'SELECT pg_try_advisory_lock%%'",
    "mysql": "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
    "AND id NOT IN (CONNECTION_ID(), {holder}) AND (info IS NULL OR info LIKE 'SELECT GET_LOCK%%')",
}
GATED = {"postgres": "UPDATE gate SET n = 1 WHERE n = 0;", "mysql": "UPDATE gate SET n = 1 WHERE n = 0;"}


@pytest.mark.xdist_group("processes")
def test_sixteen_concurrent_applies_apply_each_migration_once(any_url: str, project: Project) -> None:
    project.url = any_url
    dialect = kind(any_url)
    gated = dialect in GATED
    if gated:  # the winner's migration 2 blocks on this row until all 16 runs are in, then the test lets it go
        project.configure({"autoBackup": False, "ddlLockTimeoutMs": 300_000})
        query(any_url, "CREATE TABLE gate (n integer)")
        query(any_url, "INSERT INTO gate VALUES (0)")
    versions = write_project(project, dialect, GATED[dialect] if gated else SLEEP[dialect])
    holder = connect(any_url) if gated else None
    holder_id = 0
    if holder is not None:
        cur = holder.cursor()
        if dialect == "mysql":
            cur.execute("SELECT CONNECTION_ID()")
            holder_id = cur.fetchone()[0]
        cur.execute("BEGIN")
        cur.execute("SELECT * FROM gate FOR UPDATE")
    try:
        runs = [project.popen("apply", "--json", "--lock-timeout", "300") for _ in range(PROCESSES)]
        if gated:
            waiting = WAITING[dialect].format(holder=holder_id)
            wait_for(
                lambda: query(any_url, waiting)[0][0] >= PROCESSES - 1, "15 runs polling for the lock", timeout=120
            )
    finally:
        if holder is not None:
            holder.cursor().execute("COMMIT")
            holder.close()
    outputs = [(run.wait(timeout=300), *run.communicate()) for run in runs]

    reports = []
    for code, out, err in outputs:
        assert code == 0, out + err
        assert "Traceback" not in err
        reports.append(json.loads(out))
    done = [r for r in reports if r["outcome"] == "done"]
    assert len(done) == 1, [r["outcome"] for r in reports]
    assert [m["version"] for m in done[0]["migrations"]] == versions
    others = [r for r in reports if r["outcome"] == "nothing-to-do"]
    assert len(others) == PROCESSES - 1 and all(r["migrations"] == [] for r in others)
    if gated:  # each of them waited for the winner's lock, then found nothing to do
        assert all(r["lock_wait_ms"] > 0 for r in others), [r["lock_wait_ms"] for r in others]

    assert sorted(v for (v,) in query(any_url, "SELECT v FROM applied_log")) == [2, 3, 4]
    assert {v: h[0] for v, h in history(any_url).items()} == {v: "applied" for v in versions}
    assert [e for e in events(any_url) if e[1] == "apply"] == [(v, "apply", "ok") for v in versions]
    if gated:
        assert query(any_url, "SELECT n FROM gate") == [(1,)]  # the gated statement ran exactly once
    if dialect == "postgres":
        assert query(any_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't3_id'::regclass") == [(True,)]
