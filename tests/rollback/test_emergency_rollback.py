"""`rollback --emergency`: no analysis, no schema validation, no row counts, no estimate and no backup,
but still the migration lock, the history and the event log, and still the approvals the environment
requires. On SQLite, PostgreSQL and MariaDB.

What the emergency run sends to the database is recorded by wrapping the real engines' methods (the
database still does all the work): the only statement naming the user's tables is the DOWN itself.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rollback_helpers import apply, columns, make_project, query, settings_url, tables, write

from migration_manager import service
from migration_manager.dialects import open_engine
from migration_manager.errors import LockTimeout

LOCK = "migration-manager:schema_migrations"


def prepared(project: Path) -> Path:
    write(project, "1", "users", "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100))", "DROP TABLE users")
    write(
        project,
        "2",
        "prefs",
        [
            "CREATE TABLE user_preferences (id INTEGER PRIMARY KEY, setting VARCHAR(50))",
            "ALTER TABLE users ADD COLUMN phone VARCHAR(30)",
        ],
        ["DROP TABLE user_preferences", "ALTER TABLE users DROP COLUMN phone"],
    )
    apply(project)
    engine = open_engine(settings_url(project))
    try:
        engine.execute("INSERT INTO users (id, email, phone) VALUES (1, 'a@x', '555'), (2, 'b@x', NULL)")
        engine.execute("INSERT INTO user_preferences (id, setting) VALUES (1, 'dark'), (2, 'light'), (3, 'dark')")
    finally:
        engine.close()
    return project


class Sent:
    """Every SQL text the engines send, and every call of the analysis and backup entry points."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.calls: list[str] = []

    def naming(self, word: str) -> list[str]:
        return [s for s in self.sql if word in s.lower()]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    from migration_manager.analysis import stats
    from migration_manager.dialects.mysql import schema as schema_mysql
    from migration_manager.dialects.mysql.engine import MySQLEngine
    from migration_manager.dialects.postgres import schema as schema_postgres
    from migration_manager.dialects.postgres.engine import PostgresEngine
    from migration_manager.dialects.sqlite import schema as schema_sqlite
    from migration_manager.dialects.sqlite.engine import SQLiteEngine
    from migration_manager.service import pre_change_backup

    record = Sent()

    def spy_sql(cls, name):
        real = getattr(cls, name)

        def wrapper(self, sql, *args, **kwargs):
            record.sql.append(" ".join(str(sql).split()))
            if name == "probe_query":
                record.calls.append(name)
            return real(self, sql, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)

    def spy_call(owner, name):
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            record.calls.append(name)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for cls in (PostgresEngine, MySQLEngine, SQLiteEngine):
        for method in ("query", "execute", "probe_query"):
            spy_sql(cls, method)
        spy_call(cls, "table_stats")
    send_together = PostgresEngine.run_transaction  # a migration's statements sent in one batch

    def batch(self, statements, then):
        record.sql.extend(" ".join(s.split()) for s in statements)
        return send_together(self, statements, then)

    monkeypatch.setattr(PostgresEngine, "run_transaction", batch)
    for module in (schema_postgres, schema_mysql, schema_sqlite):
        spy_call(module, "read")
    spy_call(stats, "throughput")
    spy_call(pre_change_backup, "take_backup")
    return record


def rollback(project: Path, **fields) -> service.RunReport:
    return service.rollback(service.RollbackRequest(project_dir=project, env="dev", **fields))


def log_events(project: Path) -> list[tuple]:
    return query(project, "SELECT version, action, outcome, detail FROM schema_migrations_log ORDER BY id")


def rollback_backups(project: Path) -> list:
    listed = service.backup(service.BackupRequest(project_dir=project, env="dev", action="list")).backups
    return [b for b in listed if b.reason == "rollback"]


def test_emergency_rollback_runs_the_down_and_records_it_without_analysis_or_backup(project: Path, sent: Sent) -> None:
    prepared(project)
    report = rollback(project, emergency=True)
    assert report.outcome == "needs-approval"  # the DOWN drops data: a human says yes, even in an emergency
    assert all(r.startswith("--emergency, without analysis or backup: 2_prefs ") for r in report.approval_reasons)
    assert "user_preferences" in tables(project)
    sent.sql.clear(), sent.calls.clear()

    report = rollback(project, emergency=True, approved=True, approved_plan_id=report.plan_id)
    assert report.outcome == "done", report.message
    assert "user_preferences" not in tables(project) and "phone" not in columns(project, "users")
    assert [r[0] for r in query(project, "SELECT version FROM schema_migrations")] == ["1"]
    assert log_events(project)[-1] == (
        "2",
        "rollback",
        "ok",
        "--emergency: no analysis, no schema validation, no backup",
    )
    # Nothing read the tables: the DOWN is the only statement naming them; no probe, catalog read or backup.
    assert sent.naming("user_preferences") == ["DROP TABLE user_preferences"]
    assert sent.calls == []
    plan = report.rollback_plan
    assert plan.emergency and report.findings == [] and report.backup_id is None
    assert not plan.backup.will_back_up and "--emergency" in plan.backup.why
    assert [d.text for d in plan.steps[0].destroys] == [
        "drops table user_preferences (rows not counted: --emergency)",
        "drops column users.phone (non-null values not counted: --emergency)",
    ]
    assert plan.estimated_seconds is None and rollback_backups(project) == []


def test_normal_rollback_reads_what_emergency_skips(project: Path, sent: Sent) -> None:
    """The control: the same spies see the probes, the schema read, the throughput and the backup."""
    prepared(project)
    report = rollback(project, approved=True)
    assert report.outcome == "done", report.message
    assert {"probe_query", "table_stats", "read", "throughput", "take_backup"} <= set(sent.calls)
    assert any("count" in s.lower() for s in sent.naming("user_preferences"))
    assert report.backup_id and [b.id for b in rollback_backups(project)] == [report.backup_id]
    assert log_events(project)[-1] == ("2", "rollback", "ok", None)


def test_emergency_rollback_waits_for_the_lock_and_refuses_when_it_stays_taken(project: Path) -> None:
    prepared(project)
    holder = open_engine(settings_url(project))
    try:
        holder.acquire_lock(LOCK, 5)
        with pytest.raises(LockTimeout):
            rollback(project, emergency=True, approved=True, lock_wait_seconds=0.5)
        assert "user_preferences" in tables(project)
        assert [r[0] for r in query(project, "SELECT version FROM schema_migrations ORDER BY version")] == ["1", "2"]
        releaser = threading.Timer(1.0, holder.release_lock, args=(LOCK,))
        releaser.start()
        started = time.monotonic()
        report = rollback(project, emergency=True, approved=True, lock_wait_seconds=60)
        releaser.join()
    finally:
        holder.close()
    assert report.outcome == "done" and time.monotonic() - started > 0  # it ran once the holder let go
    assert "user_preferences" not in tables(project)


def test_emergency_on_a_require_approval_environment_still_asks(tmp_path: Path, sqlite_url: str) -> None:
    project = make_project(tmp_path / "p", sqlite_url)
    write(project, "1", "t", "CREATE TABLE t (id INTEGER)", "CREATE TABLE t_old (id INTEGER)")  # destroys nothing
    apply(project)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url"', '"requireApproval": true, "url"'))
    report = rollback(project, emergency=True)
    assert report.outcome == "needs-approval"
    assert report.approval_reasons == ["environment 'dev' requires approval (requireApproval)"]
    assert "t_old" not in tables(project)
    done = rollback(project, emergency=True, approved=True, approved_plan_id=report.plan_id)
    assert done.outcome == "done" and "t_old" in tables(project)


def test_emergency_without_data_loss_runs_without_a_question(tmp_path: Path, sqlite_url: str) -> None:
    project = make_project(tmp_path / "p", sqlite_url)
    write(project, "1", "idx", "CREATE TABLE t (id INTEGER)", "CREATE INDEX t_id ON t (id)")
    apply(project)
    report = rollback(project, emergency=True)
    assert report.outcome == "done" and report.approval_reasons == []


def test_validation_refuses_a_down_the_server_would_refuse_and_emergency_lets_the_server_say_it(project: Path) -> None:
    write(project, "1", "t", "CREATE TABLE t (id INTEGER)", "DROP TABLE nowhere")
    apply(project)
    checked = rollback(project, approved=True)
    assert checked.outcome == "failed" and checked.message.startswith("Validation found 1 error(s)")
    assert [f.rule for f in checked.findings if f.severity == "error"] == ["schema-missing-table"]
    assert log_events(project)[-1][1] == "apply"  # refused before anything ran: no event
    fast = rollback(project, emergency=True, approved=True)
    assert fast.outcome == "failed" and "nowhere" in fast.message  # the server's own error
    assert log_events(project)[-1][1:3] == ("rollback", "failed")
    assert "t" in tables(project)
    assert [r[0] for r in query(project, "SELECT version FROM schema_migrations")] == ["1"]
