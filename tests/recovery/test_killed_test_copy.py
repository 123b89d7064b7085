"""`db-migrate test` killed with SIGKILL while it rehearses on its copy: status lists the copy it left,
the next test drops it, and a copy whose test is still running is neither listed nor dropped."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from dbcheck import Project, query, wait_for

SLEEP = {"postgres": "SELECT pg_sleep(secs) FROM knob;", "mysql": "SELECT SLEEP(secs) FROM knob;"}


def copies(url: str) -> set[str]:
    database = url.rsplit("/", 1)[1]
    sql = (
        "SELECT datname FROM pg_database"
        if url.startswith("postgresql")
        else "SELECT schema_name FROM information_schema.schemata"
    )
    return {r[0] for r in query(url, sql) if r[0].startswith(f"{database}_mmtest_")}


def start_paused_test(project: Project, url: str) -> tuple[subprocess.Popen, str]:
    """A `db-migrate test` whose rehearsal sleeps (the knob is copied with the database) in its own copy."""
    known = copies(url)
    run = project.popen("test")
    new = wait_for(lambda: copies(url) - known, "the test's copy")
    name = new.pop()
    sleeping = (
        "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND query LIKE 'SELECT pg_sleep%%'"
        if url.startswith("postgresql")
        else "SELECT 1 FROM information_schema.processlist WHERE db = %s AND info LIKE 'SELECT SLEEP%%'"
    )
    wait_for(lambda: query(url, sleeping, (name,)), "the rehearsal to reach its slow statement")
    return run, name


def kill(run: subprocess.Popen) -> None:
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    run.communicate()


@pytest.mark.xdist_group("processes")
@pytest.mark.parametrize("server", ["postgres", "mysql"])
def test_copies_of_killed_test_runs_are_listed_and_dropped_never_a_running_one(
    server: str, request, project: Project
) -> None:
    url = request.getfixturevalue("pg_url" if server == "postgres" else "mysql_url")
    project.url = url
    for sql in ("CREATE TABLE knob (secs integer)", "INSERT INTO knob VALUES (600)"):
        query(url, sql)
    project.native("1", "slow", f"CREATE TABLE k1 (id integer);\n{SLEEP[server]}", "DROP TABLE k1;")

    killed, orphan = start_paused_test(project, url)
    kill(killed)
    status = json.loads(project.run("status", "--json").stdout)
    assert status["leftover_copies"] == [orphan]
    assert any(orphan in p and "next test drops it" in p for p in status["problems"])

    running, live = start_paused_test(project, url)  # the next test drops the orphan before copying
    try:
        assert copies(url) == {live}
        status = json.loads(project.run("status", "--json").stdout)
        assert status["leftover_copies"] == []  # a running test's copy is not a leftover

        query(url, "UPDATE knob SET secs = 0")
        quick = project.run("test", "--json")  # a concurrent test must leave the running one's copy alone
        report = json.loads(quick.stdout)
        assert quick.returncode == 0 and report["outcome"] == "passed", quick.stdout + quick.stderr
        assert report["copy_dropped"] and copies(url) == {live}
        assert not any("left by killed test runs" in note for note in report["notes"])
    finally:
        kill(running)
    after = project.run("test", "--json")
    report = json.loads(after.stdout)
    assert f"Dropped 1 copy(ies) left by killed test runs: {live}." in report["notes"]
    assert copies(url) == set()
