"""A run that died between a statement finishing on the server and its progress record.

The history then says "k-1 done" while the schema already has statement k's effect. `status`
must say so from the live schema, and `resolve --retry` must continue after it instead of
failing on "already exists". The crash is reproduced exactly: the migration runs, then the
schema and the history are put back to what a kill -9 at that moment leaves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_manager import service
from migration_manager.dialects import open_engine

THREE_STEPS = """-- UP
CREATE TABLE accounts (id int primary key);
ALTER TABLE accounts ADD COLUMN email varchar(100);
CREATE INDEX ix_accounts_email ON accounts (email);
-- DOWN
DROP INDEX ix_accounts_email ON accounts;
ALTER TABLE accounts DROP COLUMN email;
DROP TABLE accounts;
"""


def project(tmp_path: Path, url: str) -> service.TargetRequest:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_accounts.sql").write_text(THREE_STEPS)
    return service.TargetRequest(project_dir=tmp_path, url=url)


def crash(url: str, *statements: str, status: str, done: int) -> None:
    """Leave the schema and the history as a process killed at that point would."""
    engine = open_engine(url)
    try:
        for sql in statements:
            engine.execute(sql)
        engine.execute(f"UPDATE schema_migrations SET status = '{status}', statements_done = {done}")
    finally:
        engine.close()


def indexes(url: str) -> set[str]:
    engine = open_engine(url)
    try:
        return {
            row[0]
            for row in engine.query(
                "SELECT index_name FROM information_schema.statistics "
                "WHERE table_schema = DATABASE() AND table_name = 'accounts'"
            )
        }
    finally:
        engine.close()


def retry(target: service.TargetRequest):
    request = service.ResolveRequest(**target.model_dump(), version="001", action="retry")
    return service.resolve(request)


def test_status_names_the_statement_that_completed_and_retry_continues_after_it(mysql_url: str, tmp_path: Path) -> None:
    target = project(tmp_path, mysql_url)
    service.apply(service.ApplyRequest(**target.model_dump()))
    # killed after statement 2 finished on the server, before its progress record and statement 3
    crash(mysql_url, "DROP INDEX ix_accounts_email ON accounts", status="running", done=1)

    status = service.status(target)
    assert status.dirty
    assert "statement 2 (ALTER TABLE accounts ADD COLUMN email varchar(100)) had completed" in status.dirty_detail
    assert "column accounts.email exists" in status.dirty_detail
    assert "records statement 2 as done and continues from statement 3" in status.dirty_detail

    report = retry(target)
    assert report.outcome == "done", report.message
    assert "Recorded it as done; resuming at statement 3" in report.message
    assert "ix_accounts_email" in indexes(mysql_url)
    after = service.status(target)
    assert not after.dirty and after.current_version == "001"
    events = service.history(target).events
    assert [e.action for e in events[:2]] == ["apply", "recovered"]
    assert "column accounts.email exists" in events[1].detail


def test_a_statement_that_never_ran_is_run_again(mysql_url: str, tmp_path: Path) -> None:
    target = project(tmp_path, mysql_url)
    service.apply(service.ApplyRequest(**target.model_dump()))
    crash(
        mysql_url,
        "DROP INDEX ix_accounts_email ON accounts",
        "ALTER TABLE accounts DROP COLUMN email",
        status="running",
        done=1,
    )

    detail = service.status(target).dirty_detail
    assert "statement 2 (ALTER TABLE accounts ADD COLUMN email varchar(100)) had not taken effect" in detail
    assert "column accounts.email does not exist" in detail
    assert "re-runs from statement 2" in detail

    report = retry(target)
    assert report.outcome == "done", report.message
    assert "Recorded it as done" not in report.message
    assert "ix_accounts_email" in indexes(mysql_url)
    assert [e.action for e in service.history(target).events[:1]] == ["apply"]


def test_a_rollback_that_died_after_its_first_statement_resumes_at_the_second(mysql_url: str, tmp_path: Path) -> None:
    target = project(tmp_path, mysql_url)
    service.apply(service.ApplyRequest(**target.model_dump()))
    crash(mysql_url, "DROP INDEX ix_accounts_email ON accounts", status="rolling_back", done=0)

    assert "index ix_accounts_email is gone" in service.status(target).dirty_detail
    report = retry(target)
    assert report.outcome == "done", report.message
    after = service.status(target)
    assert not after.dirty and after.current_version is None
    assert [p.version for p in after.pending] == ["001"]


def test_a_failed_statement_is_not_second_guessed(mysql_url: str, tmp_path: Path) -> None:
    """`failed` means the server raised: the statement did not run, whatever the schema looks like."""
    target = project(tmp_path, mysql_url)
    service.apply(service.ApplyRequest(**target.model_dump()))
    crash(mysql_url, "DROP INDEX ix_accounts_email ON accounts", status="failed", done=1)

    detail = service.status(target).dirty_detail
    assert "statement 2 failed" in detail
    assert "live schema" not in detail


@pytest.mark.parametrize(
    "statement, effect",
    [
        ("ALTER TABLE accounts RENAME COLUMN email TO mail", "column accounts.email renamed to mail"),
        ("ALTER TABLE accounts DROP COLUMN email", "column accounts.email is gone"),
        ("DROP TABLE accounts", "table accounts is gone"),
    ],
)
def test_each_kind_of_effect_is_read_from_the_schema(
    sqlite_url: str, tmp_path: Path, statement: str, effect: str
) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_accounts.sql").write_text(
        "-- UP\nCREATE TABLE accounts (id integer primary key, email text);\n-- DOWN\nDROP TABLE accounts;\n"
    )
    (tmp_path / "migrations" / "002_change.sql").write_text(f"-- UP\nSELECT 1;\n{statement};\n-- DOWN\nSELECT 1;\n")
    target = service.TargetRequest(project_dir=tmp_path, url=sqlite_url)
    service.apply(service.ApplyRequest(**target.model_dump(), to_version="001"))
    service.apply(service.ApplyRequest(**target.model_dump()))
    engine = open_engine(sqlite_url)
    try:  # SQLite runs a migration in one transaction; forge the record a per-statement run would leave
        engine.execute("UPDATE schema_migrations SET status = 'running', statements_done = 1 WHERE version = '002'")
    finally:
        engine.close()
    assert effect in service.status(target).dirty_detail


def test_a_failure_after_unrecorded_statements_is_recorded_at_its_statement(mysql_url: str, tmp_path: Path) -> None:
    """Statements 1 and 2 only add, so their progress records are left out; statement 3 fails on the data (the
    pre-check cannot see duplicates): the failure record still says 2 of 3, and retry runs statement 3 only."""
    engine = open_engine(mysql_url)
    try:
        engine.execute("CREATE TABLE knob (id integer)")
        engine.execute("INSERT INTO knob VALUES (1), (1)")
    finally:
        engine.close()
    (tmp_path / "migration-manager.yaml").write_text("autoBackup: false\nrollback:\n  autoOnFailure: false\n")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_add.sql").write_text(
        "-- UP\nCREATE TABLE accounts (id int primary key);\nALTER TABLE accounts ADD COLUMN email varchar(100);\n"
        "CREATE UNIQUE INDEX ux_knob ON knob (id);\n-- DOWN\nDROP TABLE accounts;\n"
    )
    target = service.TargetRequest(project_dir=tmp_path, url=mysql_url)
    report = service.apply(service.ApplyRequest(**target.model_dump(), approved=True))  # a unique index: a danger
    assert report.outcome == "failed" and "statement 3 of 3" in report.message
    assert [s.status for s in report.migrations[0].statements] == ["done", "done", "failed"]
    status = service.status(target)
    assert status.dirty and "statement 3 failed" in status.dirty_detail
    assert "2 of 3 statements done" in status.dirty_detail and "live schema" not in status.dirty_detail

    engine = open_engine(mysql_url)
    try:
        engine.execute("DELETE FROM knob LIMIT 1")
    finally:
        engine.close()
    retried = retry(target)
    assert retried.outcome == "done", retried.message
    assert [s.status for s in retried.migrations[0].statements] == ["skipped", "skipped", "done"]
    assert not service.status(target).dirty
