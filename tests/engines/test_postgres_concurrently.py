"""CREATE INDEX CONCURRENTLY on PostgreSQL: run outside a transaction, said so, valid afterwards; and when it
fails, the INVALID index PostgreSQL leaves behind is named with the statement that removes it."""

from __future__ import annotations

import json

from dbcheck import Project, events, history, query


def users(url: str, *, duplicate: bool = False) -> None:
    query(url, "CREATE TABLE users (id integer PRIMARY KEY, email text, name text)")
    query(url, "INSERT INTO users SELECT g, 'u' || g || '@x', 'n' || g FROM generate_series(1, 1000) g")
    if duplicate:
        query(url, "UPDATE users SET email = 'same@x' WHERE id IN (7, 8)")


def index_valid(url: str, name: str) -> list[tuple]:
    return query(
        url, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", (name,)
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def test_concurrently_runs_outside_a_transaction_with_or_without_begin(pg_url: str, project: Project) -> None:
    project.url = pg_url
    users(pg_url)
    # As `db-migrate create` writes it: BEGIN; ... COMMIT; around a statement that refuses a transaction block.
    project.native(
        "1",
        "email_index",
        "CREATE INDEX CONCURRENTLY users_email ON users (email);",
        "DROP INDEX CONCURRENTLY users_email;",
    )
    project.write(
        "2_name_index.sql",
        "-- UP\nCREATE INDEX CONCURRENTLY users_name ON users (name);\n-- DOWN\nDROP INDEX CONCURRENTLY users_name;\n",
    )

    dry = project.run("apply", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    for run in json.loads(dry.stdout)["migrations"]:
        assert run["mode"] == "per-statement" and all(s["outside_transaction"] for s in run["statements"])
        assert "cannot run inside a transaction block" in run["mode_reason"]
    shown = flat(project.run("apply", "--dry-run").stdout)
    assert (
        "outside a transaction: statement 1 (CREATE INDEX CONCURRENTLY users_email ON users (email)) cannot run "
        "inside a transaction block"
    ) in shown
    assert "BEGIN;" not in shown and "COMMIT;" not in shown  # the plan shows exactly what runs

    done = project.run("apply", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["outcome"] == "done"
    assert index_valid(pg_url, "users_email") == [(True,)] and index_valid(pg_url, "users_name") == [(True,)]
    assert {v: h[:3] for v, h in history(pg_url).items()} == {"1": ("applied", 1, 1), "2": ("applied", 1, 1)}
    assert [e for e in events(pg_url) if e[1] == "apply"] == [("1", "apply", "ok"), ("2", "apply", "ok")]

    back = project.run("rollback", "--all")
    assert back.returncode == 0, back.stdout + back.stderr
    assert index_valid(pg_url, "users_email") == [] and index_valid(pg_url, "users_name") == []
    assert history(pg_url) == {}


def failing_unique_index(project: Project, url: str) -> None:
    project.url = url
    users(url, duplicate=True)
    project.native(
        "1",
        "unique_email",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);",
        "DROP INDEX CONCURRENTLY users_email;",
    )


def test_failed_concurrent_index_names_the_invalid_index_and_the_fix(pg_url: str, project: Project) -> None:
    failing_unique_index(project, pg_url)
    project.configure({"autoBackup": False, "rollback": {"autoOnFailure": False}})
    # The analysis saw the duplicates and asked for approval; a human said yes anyway.
    done = project.run("apply", "--yes")
    assert done.returncode == 9
    text = flat(done.stdout + done.stderr)
    assert "Traceback" not in text
    assert "could not create unique index" in text and "same@x" in text  # the server's reason
    assert "left the INVALID index users_email behind" in text
    assert "DROP INDEX CONCURRENTLY IF EXISTS users_email;" in text
    assert index_valid(pg_url, "users_email") == [(False,)]  # what PostgreSQL really left
    assert history(pg_url)["1"][:3] == ("failed", 0, 1)

    status = json.loads(project.run("status", "--json").stdout)
    assert status["dirty"] is True
    assert "INVALID index users_email" in status["dirty_detail"]
    assert "DROP INDEX CONCURRENTLY IF EXISTS users_email;" in status["dirty_detail"]

    # Retrying without the cleanup fails on the name the invalid index still holds, and says so again.
    query(pg_url, "UPDATE users SET email = 'other@x' WHERE id = 8")
    again = project.run("resolve", "1", "--retry")
    assert again.returncode == 9
    assert "already exists" in again.stdout + again.stderr
    assert "DROP INDEX CONCURRENTLY IF EXISTS users_email;" in flat(again.stdout + again.stderr)

    query(pg_url, "DROP INDEX CONCURRENTLY IF EXISTS users_email")
    fixed = project.run("resolve", "1", "--retry")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert index_valid(pg_url, "users_email") == [(True,)]
    assert history(pg_url)["1"][:3] == ("applied", 1, 1)


def test_failed_concurrent_index_is_dropped_by_auto_on_failure(pg_url: str, project: Project) -> None:
    failing_unique_index(project, pg_url)  # default settings: rollback.autoOnFailure is on
    done = project.run("apply", "--yes", "--json")
    assert done.returncode == 9
    report = json.loads(done.stdout)
    assert report["failure_recovery"] == "transaction-rollback"
    assert "dropped the INVALID index users_email the failed statement left behind" in report["message"]
    assert "the INVALID index users_email it left was dropped" in report["error"]["state"]
    assert "pending again" in report["error"]["state"]
    assert index_valid(pg_url, "users_email") == []
    assert history(pg_url) == {}
    assert ("1", "apply", "failed") in events(pg_url)
    status = json.loads(project.run("status", "--json").stdout)
    assert status["dirty"] is False and [m["version"] for m in status["pending"]] == ["1"]
