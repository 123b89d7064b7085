"""16 simultaneous `db-migrate apply` on one database: each migration applied exactly once, the rest wait."""

from __future__ import annotations

import json
import time

import pytest

from dbcheck import Project, events, history, kind, query

PROCESSES = 16
SLEEP = {"postgres": "SELECT pg_sleep(1);", "mysql": "SELECT SLEEP(1);",
         "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
                   "SELECT count(*) FROM c;"}


def write_project(project: Project, dialect: str) -> list[str]:
    project.native("1", "log", "CREATE TABLE applied_log (v integer NOT NULL);", "DROP TABLE applied_log;")
    # A slow migration: the other runs are certainly waiting on the lock while it runs.
    project.native("2", "slow", f"{SLEEP[dialect]}\nINSERT INTO applied_log VALUES (2);",
                   "DELETE FROM applied_log WHERE v = 2;")
    for v in (3, 4):
        project.native(str(v), f"t{v}", f"CREATE TABLE t{v} (id integer);\nINSERT INTO applied_log VALUES ({v});",
                       f"DROP TABLE t{v};")
    versions = ["1", "2", "3", "4"]
    if dialect == "postgres":
        # The lock holder runs CREATE INDEX CONCURRENTLY while 15 sessions wait for the lock: a blocking
        # advisory-lock wait would deadlock here (Flyway #1654); polling must not.
        project.native("5", "cic", "CREATE INDEX CONCURRENTLY t3_id ON t3 (id);", "DROP INDEX CONCURRENTLY t3_id;",
                       header="-- no-transaction\n")
        versions.append("5")
    return versions


@pytest.mark.xdist_group("processes")
def test_sixteen_concurrent_applies_apply_each_migration_once(any_url: str, project: Project) -> None:
    project.url = any_url
    versions = write_project(project, kind(any_url))
    started = time.monotonic()
    runs = [project.popen("apply", "--json", "--lock-timeout", "120") for _ in range(PROCESSES)]
    outputs = [(run.wait(timeout=180), *run.communicate()) for run in runs]
    assert time.monotonic() - started < 180

    reports = []
    for code, out, err in outputs:
        assert code == 0, out + err
        assert "Traceback" not in err
        reports.append(json.loads(out))
    done = [r for r in reports if r["outcome"] == "done"]
    assert len(done) == 1, [r["outcome"] for r in reports]
    assert [m["version"] for m in done[0]["migrations"]] == versions
    assert sum(r["outcome"] == "nothing-to-do" for r in reports) == PROCESSES - 1

    assert sorted(v for (v,) in query(any_url, "SELECT v FROM applied_log")) == [2, 3, 4]
    assert {v: h[0] for v, h in history(any_url).items()} == {v: "applied" for v in versions}
    assert [e for e in events(any_url) if e[1] == "apply"] == [(v, "apply", "ok") for v in versions]
    if kind(any_url) == "postgres":
        assert query(any_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't3_id'::regclass") == [(True,)]
