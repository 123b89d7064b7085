"""The lock model's prediction for each phase step (analysis/impact/steps.py), checked on the live server: a session
holds the step's locks (PostgreSQL: inside an open transaction, as tests/analysis/test_locks_postgres.py does;
MariaDB: the step waits behind an open reader, as test_locks_mysql.py does) and a second session's read and write
are blocked exactly when the prediction says so."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pymysql

from dbcheck import execute, make_project, write_native
from migration_manager import service
from migration_manager.analysis.impact.steps import StepPredictor
from migration_manager.analysis.locks import Server
from migration_manager.analysis.schema import read_schema
from migration_manager.dialects import open_engine
from migration_manager.dialects.mysql.locks import create_trigger as mysql_trigger
from migration_manager.dialects.postgres.locks import create_trigger as postgres_trigger
from migration_manager.strategies.model import Step
from migration_manager.surfaces.text import strategy_lines

ADD_PHONE = "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'none'"
ADD_CHECK = "ALTER TABLE users ADD CONSTRAINT users_n_positive CHECK (n > 0)"


def _users(url: str) -> None:
    execute(url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), n INT)")
    execute(url, "INSERT INTO users (id, name, n) VALUES " + ", ".join(f"({i}, 'u{i}', {i + 1})" for i in range(300)))


def _plan(tmp_path: Path, url: str, up: list[str], header: str = "online"):
    project = make_project(tmp_path / "proj", url, autoBackup=False)
    path = write_native(project, "1", "change", up, None)
    path.write_text(f"-- strategy: {header}\n" + path.read_text())
    return service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True)).migrations[0].strategy


def _steps(plan) -> list[Step]:
    return [step for s in plan.statements for step in s.expand] + [step for s in plan.statements for step in s.complete]


# ---- PostgreSQL: each step held in an open transaction -------------------------------------------------------------
READ, WRITE = "SELECT count(*) FROM users", "INSERT INTO users (id, name, n) VALUES (100000, 'w', 1)"


def _pg_blocked(url: str, sql: str) -> bool:
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SET lock_timeout = '100ms'")
        try:
            with other.transaction():
                other.execute(sql)
                raise psycopg.Rollback()
        except psycopg.errors.LockNotAvailable:
            return True
    return False


def _pg_probe(url: str, held: str) -> tuple[bool, bool]:
    """Whether a read and a write of users wait while a session holds `held` in an open transaction."""
    with psycopg.connect(url) as session:
        session.execute(held)
        blocked = _pg_blocked(url, READ), _pg_blocked(url, WRITE)
        session.commit()  # the next step meets the schema this one leaves
    return blocked


def test_postgres_each_online_step_blocks_what_its_prediction_says(pg_url, tmp_path) -> None:
    _users(pg_url)
    plan = _plan(tmp_path, pg_url, [ADD_PHONE, ADD_CHECK, "CREATE INDEX users_name ON users (name)"])
    checked = []
    for step in _steps(plan):
        (predicted,) = step.locks
        if step.backfill is not None:  # one batch: row locks only; a write to one of its rows waits for the batch
            fill = step.backfill
            batch = f"UPDATE {fill.table} SET {fill.column} = {fill.value} WHERE id < 100"  # as when its rows are NULL
            with psycopg.connect(pg_url) as session:
                session.execute(batch)
                assert (_pg_blocked(pg_url, READ), _pg_blocked(pg_url, WRITE)) == (False, False)
                assert _pg_blocked(pg_url, "UPDATE users SET name = 'x' WHERE id = 5"), "a row of the batch waits"
                session.rollback()
            execute(pg_url, f"UPDATE {fill.table} SET {fill.column} = {fill.value} WHERE {fill.column} IS NULL")
            assert predicted.stall_ms == 100  # online.batchTargetMs: how long that write can wait
        elif "CONCURRENTLY" in step.sql:  # no transaction block: tests/analysis/test_locks_postgres.py catches it
            execute(pg_url, step.sql)
        else:
            assert _pg_probe(pg_url, step.sql) == (predicted.blocks_reads, predicted.blocks_writes), step.sql
        assert (predicted.blocks_reads, predicted.blocks_writes) != (True, True) or predicted.stall_ms == 500
        checked.append((step.describe()[:40], predicted.blocks))
    blocks = dict(checked)
    assert "nothing (reads and writes go on)" in blocks.values()  # VALIDATE, CONCURRENTLY, the batches
    assert "reads and writes" in blocks.values()  # ADD COLUMN, ADD CHECK NOT VALID, SET NOT NULL: brief, bounded


def test_postgres_shadow_triggers_block_writes_only_and_the_swap_blocks_both(pg_url, tmp_path) -> None:
    _users(pg_url)
    plan = _plan(tmp_path, pg_url, ["ALTER TABLE users ALTER COLUMN n TYPE bigint"], header="shadow")
    create, triggers, batches, swap = plan.statements[0].expand[0].locks
    assert (create.blocks_reads, create.blocks_writes) == (False, False)
    assert triggers.lock == postgres_trigger("users").lock and triggers.stall_ms == 200
    assert (batches.blocks_writes, batches.stall_ms) == (False, 300) and "DELETE" in batches.blocks
    with psycopg.connect(pg_url) as session:  # a copy batch reads its range FOR KEY SHARE
        session.execute("SELECT * FROM users WHERE id < 100 FOR KEY SHARE")
        assert not _pg_blocked(pg_url, "UPDATE users SET name = 'x' WHERE id = 5")
        assert _pg_blocked(pg_url, "DELETE FROM users WHERE id = 5")
        session.rollback()
    execute(pg_url, "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
    trigger = "CREATE TRIGGER sync AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION noop()"
    assert _pg_probe(pg_url, trigger) == (triggers.blocks_reads, triggers.blocks_writes) == (False, True)
    assert (
        _pg_probe(pg_url, swap.step.removeprefix("swap: ")) == (swap.blocks_reads, swap.blocks_writes) == (True, True)
    )
    assert swap.stall_ms == 200  # the cut-over's lock timeout


# ---- MariaDB: an open reader holds the table; the step waits for it; a read and a write arrive -------------------
def _session(url: str, database: str):
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database, autocommit=True)


def _waits(session, sql: str) -> bool:
    with session.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1")
        try:
            cur.execute(sql)
        except pymysql.MySQLError as exc:
            assert exc.args[0] == 1205, exc
            return True
    return False


def _mysql_queues(url: str, database: str, step_sql: str) -> tuple[bool, bool]:
    """With a reader's transaction open on users, run the step: do a new read and a new write queue behind it?"""
    reader, migrator, other = (_session(url, database) for _ in range(3))
    try:
        reader.begin()
        reader.cursor().execute("SELECT count(*) FROM users")
        step = threading.Thread(target=migrator.cursor().execute, args=(step_sql,))
        step.start()
        deadline = time.monotonic() + 10
        while not _waiting(other, database):
            assert time.monotonic() < deadline, "the step never waited"
            time.sleep(0.02)
        blocked = _waits(other, "SELECT count(*) FROM users"), _waits(other, "UPDATE users SET name = 'x' WHERE id = 7")
        reader.commit()
        step.join(timeout=30)
    finally:
        for session in (reader, migrator, other):
            session.close()
    return blocked


def _waiting(session, database: str) -> bool:
    """Whether a session of this database waits for a metadata lock (other tests share the server)."""
    with session.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM information_schema.PROCESSLIST WHERE state = 'Waiting for table metadata lock' AND db = %s",
            (database,),
        )
        return bool(cur.fetchall())


def test_mariadb_online_steps_queue_behind_open_transactions_as_predicted(mysql_url, tmp_path) -> None:
    _users(mysql_url)
    database = mysql_url.rsplit("/", 1)[1].split("?")[0]
    plan = _plan(tmp_path, mysql_url, [ADD_PHONE, "CREATE INDEX users_name ON users (name)"])
    steps = _steps(plan)
    alter = next(s for s in steps if s.sql and "ADD COLUMN" in s.sql)
    (predicted,) = alter.locks
    assert predicted.algorithm and predicted.queues_behind_transactions and predicted.stall_ms == 500
    assert _mysql_queues(mysql_url, database, alter.sql) == (True, True)  # the reads and writes that queue behind it
    index = next(s for s in steps if s.sql and "CREATE INDEX" in s.sql)
    (predicted,) = index.locks  # LOCK=NONE: nothing blocked while it builds, yet its metadata lock queues
    assert (predicted.blocks_reads, predicted.blocks_writes, predicted.queues_behind_transactions) == (
        False,
        False,
        True,
    )
    assert _mysql_queues(mysql_url, database, index.sql) == (True, True)
    backfill = next(s for s in steps if s.backfill is not None)
    fill, (batch,) = backfill.backfill, backfill.locks
    assert (batch.blocks_reads, batch.blocks_writes, batch.queues_behind_transactions) == (False, False, False)
    holder, other = _session(mysql_url, database), _session(mysql_url, database)
    try:
        holder.begin()
        holder.cursor().execute(f"UPDATE {fill.table} SET {fill.column} = {fill.value} WHERE id < 100")
        assert not _waits(other, "SELECT count(*) FROM users")
        assert not _waits(other, "UPDATE users SET name = 'x' WHERE id = 200")  # outside the batch
        assert _waits(other, "UPDATE users SET name = 'x' WHERE id = 5")  # a row of the batch: waits for its commit
        holder.rollback()
    finally:
        holder.close(), other.close()


def test_mariadb_shadow_swap_and_triggers_queue_behind_open_transactions(mysql_url, tmp_path) -> None:
    _users(mysql_url)
    database = mysql_url.rsplit("/", 1)[1].split("?")[0]
    engine = open_engine(mysql_url)
    try:
        predictor = StepPredictor(Server.parse("mysql", engine.server_version()), read_schema(engine))
        create, triggers, batches, swap = predictor.step(Step(shadow="ALTER TABLE users MODIFY n BIGINT"), "apply")
    finally:
        engine.close()
    assert triggers.lock == mysql_trigger("users").lock and (batches.stall_ms, swap.stall_ms) == (50, 200)
    assert (swap.blocks_reads, swap.blocks_writes, swap.queues_behind_transactions) == (True, True, True)
    execute(mysql_url, "CREATE TABLE `_mm_new_users` LIKE users")
    trigger = "CREATE TRIGGER sync AFTER INSERT ON users FOR EACH ROW SET @x = 1"
    assert _mysql_queues(mysql_url, database, trigger) == (triggers.blocks_reads, triggers.blocks_writes)
    assert _mysql_queues(mysql_url, database, swap.step.removeprefix("swap: ")) == (True, True)


def test_analyze_shows_each_step_s_lock_and_stall(pg_url, tmp_path) -> None:
    _users(pg_url)
    _plan(tmp_path, pg_url, [ADD_PHONE])
    report = service.analyze(service.AnalyzeRequest(project_dir=tmp_path / "proj", env="dev"))
    (statement,) = report.migrations[0].strategy.statements
    first = statement.expand[0].locks[0]
    assert (first.lock, first.blocks_reads, first.stall_ms) == ("ACCESS EXCLUSIVE", True, 500)
    assert report.model_dump(mode="json")["migrations"][0]["strategy"]["statements"][0]["complete"][0]["locks"]
    text = "\n".join(line for line in strategy_lines(report.migrations[0]) if isinstance(line, str))
    assert "apply: ALTER TABLE" in text and "stall <= 500 ms" in text
    assert "complete: ALTER TABLE" in text and "VALIDATE CONSTRAINT" in text and "stall none" in text
