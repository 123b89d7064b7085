"""The PostgreSQL lock model, proven on the live server.

For each statement: session A runs it inside an open transaction (so it keeps its locks);
pg_locks shows the modes A holds; session B, with a short lock_timeout, tries a read and a
write on each table involved. The lock model's claim must match what the server did: the
mode, whether reads and writes were blocked, whether the table was rewritten (new relfilenode).
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from dbcheck import wait_for
from migration_manager.analysis.locks import Server, lock_impact
from migration_manager.analysis.operations import statement_operations
from migration_manager.analysis.schema import read_schema
from migration_manager.dialects import open_engine
from migration_manager.dialects.postgres.locks import CONFLICTS

pytestmark = pytest.mark.postgres

SETUP = """
CREATE TABLE parent (id int PRIMARY KEY);
INSERT INTO parent SELECT generate_series(1, 100);
CREATE TABLE t (id int PRIMARY KEY, v int, s varchar(20), pid int);
INSERT INTO t SELECT g, g, 'x', 1 FROM generate_series(1, 1000) g;
CREATE INDEX t_v ON t (v);
ALTER TABLE t ADD CONSTRAINT t_v_positive CHECK (v > 0) NOT VALID;
CREATE TABLE child (id int PRIMARY KEY, tid int CONSTRAINT child_t_fk REFERENCES t (id));
"""

PROBES = {  # a read and a write per table, each in its own rolled-back transaction
    "t": ("SELECT count(*) FROM t", "INSERT INTO t (id, v, s, pid) VALUES (100000, 1, 'y', 1)"),
    "parent": ("SELECT count(*) FROM parent", "INSERT INTO parent VALUES (100000)"),
}

CASES = [
    "ALTER TABLE t ADD COLUMN c int",
    "ALTER TABLE t ADD COLUMN c int DEFAULT 5",
    "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()",
    "ALTER TABLE t DROP COLUMN s",
    "ALTER TABLE t ALTER COLUMN s TYPE varchar(50)",
    "ALTER TABLE t ALTER COLUMN s TYPE text",
    "ALTER TABLE t ALTER COLUMN v TYPE bigint",
    "ALTER TABLE t ALTER COLUMN v SET NOT NULL",
    "ALTER TABLE t ALTER COLUMN v DROP NOT NULL",
    "ALTER TABLE t ALTER COLUMN v SET DEFAULT 3",
    "ALTER TABLE t ADD CONSTRAINT c2 CHECK (v > 0)",
    "ALTER TABLE t ADD CONSTRAINT c2 CHECK (v > 0) NOT VALID",
    "ALTER TABLE t VALIDATE CONSTRAINT t_v_positive",
    "ALTER TABLE t ADD CONSTRAINT t_parent_fk FOREIGN KEY (pid) REFERENCES parent (id)",
    "ALTER TABLE t ADD CONSTRAINT t_parent_fk FOREIGN KEY (pid) REFERENCES parent (id) NOT VALID",
    "ALTER TABLE t ADD CONSTRAINT t_v_key UNIQUE (v)",
    "CREATE INDEX t_s ON t (s)",
    "CREATE UNIQUE INDEX t_v_unique ON t (v)",
    "DROP INDEX t_v",
    "ALTER TABLE t RENAME COLUMN v TO w",
    "TRUNCATE t CASCADE",
    "CREATE TABLE grandchild (id int PRIMARY KEY, pid int REFERENCES parent (id))",
    "UPDATE t SET v = v + 1 WHERE id < 10",
]

MODE_ORDER = [
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
]


def _mode(pg_mode: str) -> str:
    """'ShareRowExclusiveLock' -> 'SHARE ROW EXCLUSIVE'."""
    words, word = [], ""
    for char in pg_mode.removesuffix("Lock"):
        if char.isupper() and word:
            words.append(word)
            word = ""
        word += char
    return " ".join(words + [word]).upper()


def _strongest(modes: set[str]) -> str | None:
    return max(modes, key=MODE_ORDER.index) if modes else None


@pytest.fixture
def db(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(SETUP)
    engine = open_engine(pg_url)
    yield pg_url, engine
    engine.close()


def _claim(engine, statement: str):
    server = Server.parse("postgres", engine.server_version())
    ops = statement_operations(statement, "postgres")
    assert len(ops) == 1, ops
    schema = read_schema(engine)
    op = schema.resolve(ops[0])
    return op, lock_impact(op, server, schema)


def _held_modes(session: psycopg.Connection, oids: dict[str, int]) -> dict[str, set[str]]:
    names = {oid: name for name, oid in oids.items()}
    rows = session.execute(
        "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
    ).fetchall()
    held: dict[str, set[str]] = {}
    for relation, mode in rows:
        if relation in names:
            held.setdefault(names[relation], set()).add(_mode(mode))
    return held


def _blocked(url: str, sql: str) -> bool:
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SET lock_timeout = '100ms'")
        try:
            with other.transaction():
                other.execute(sql)
                raise psycopg.Rollback()
        except psycopg.errors.LockNotAvailable:
            return True
    return False


@pytest.mark.parametrize("statement", CASES)
def test_lock_claim_matches_server(db, statement):
    url, engine = db
    op, claim = _claim(engine, statement)
    oids = dict(engine.query("SELECT relname, oid::int FROM pg_class WHERE relname IN ('t', 'parent')"))
    files_before = engine.query("SELECT relfilenode FROM pg_class WHERE relname = 't'")[0][0]
    with psycopg.connect(url) as session:  # A: holds the statement's locks until rollback
        session.execute(statement)
        held = _held_modes(session, oids)
        files_after = session.execute("SELECT relfilenode FROM pg_class WHERE relname = 't'").fetchone()[0]
        blocked = {
            (table, what): _blocked(url, sql)
            for table, probes in PROBES.items()
            for what, sql in zip(("read", "write"), probes)
        }
        session.rollback()

    if op.kind != "create_table":
        assert _strongest(held.get(op.table, set())) == claim.lock, held
    for table, mode in claim.other_tables.items():
        assert _strongest(held.get(table, set())) == mode, held
    for table in PROBES:
        mode = claim.lock if table == op.table and op.kind != "create_table" else claim.other_tables.get(table)
        assert blocked[(table, "read")] == bool(mode and "ACCESS SHARE" in CONFLICTS[mode]), (table, held)
        assert blocked[(table, "write")] == bool(mode and "ROW EXCLUSIVE" in CONFLICTS[mode]), (table, held)
    assert claim.blocks_reads == any(blocked[(t, "read")] for t in PROBES)
    assert claim.blocks_writes == any(blocked[(t, "write")] for t in PROBES)
    assert claim.rewrites_table == (files_after != files_before and op.kind != "truncate")


def test_drop_constraint_of_a_foreign_key_also_locks_the_referenced_table(db):
    url, engine = db
    op, claim = _claim(engine, "ALTER TABLE child DROP CONSTRAINT child_t_fk")
    assert claim.other_tables == {"t": "ACCESS EXCLUSIVE"}
    with psycopg.connect(url) as session:
        session.execute(op.statement)
        assert _blocked(url, PROBES["t"][0]), "reads of the referenced table wait"
        session.rollback()


def test_drop_table_locks_the_tables_linked_by_foreign_keys(db):
    url, engine = db
    op, claim = _claim(engine, "DROP TABLE child")
    assert claim.other_tables == {"t": "ACCESS EXCLUSIVE"}
    assert claim.blocks_reads
    with psycopg.connect(url) as session:
        session.execute(op.statement)
        assert _blocked(url, PROBES["t"][0])
        session.rollback()


def test_create_index_concurrently_lets_reads_and_writes_through(db):
    """CIC runs outside a transaction: catch it while it waits for an older writer to finish."""
    url, engine = db
    op, claim = _claim(engine, "CREATE INDEX CONCURRENTLY t_s ON t (s)")
    assert (claim.lock, claim.blocks_reads, claim.blocks_writes, claim.in_transaction) == (
        "SHARE UPDATE EXCLUSIVE",
        False,
        False,
        False,
    )
    with psycopg.connect(url) as writer, psycopg.connect(url, autocommit=True) as builder:
        writer.execute("INSERT INTO t (id, v, s, pid) VALUES (200000, 1, 'w', 1)")  # open transaction
        build = threading.Thread(target=builder.execute, args=(op.statement,))
        build.start()
        modes = wait_for(
            lambda: engine.query(
                "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.relation = 't'::regclass "
                "AND a.query LIKE 'CREATE INDEX CONCURRENTLY%%' AND l.granted"
            ),
            "the index build to hold its lock",
        )
        assert {_mode(m) for (m,) in modes} == {claim.lock}
        assert not _blocked(url, PROBES["t"][0]) and not _blocked(url, PROBES["t"][1])
        writer.commit()
        build.join(timeout=30)
    assert engine.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_s'::regclass") == [(True,)]


def test_brief_exclusive_lock_queues_behind_a_reader_and_blocks_reads_behind_it(db):
    """ADD COLUMN is catalog-only, yet while it waits for an open read transaction every new
    read queues behind it: why the report says 'queues behind open transactions'."""
    url, engine = db
    op, claim = _claim(engine, "ALTER TABLE t ADD COLUMN c int")
    assert "queues behind open transactions" in claim.explanation
    with psycopg.connect(url) as reader, psycopg.connect(url, autocommit=True) as migrator:
        reader.execute("SELECT count(*) FROM t")  # a long transaction holding ACCESS SHARE
        alter = threading.Thread(target=migrator.execute, args=(op.statement,))
        alter.start()
        wait_for(
            lambda: engine.query(
                "SELECT 1 FROM pg_locks WHERE relation = 't'::regclass AND NOT granted AND mode = 'AccessExclusiveLock'"
            ),
            "the ALTER to wait",
        )
        assert _blocked(url, PROBES["t"][0]), "a new read waits behind the queued ALTER"
        reader.rollback()
        alter.join(timeout=30)
    assert engine.query(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'"
    ) == [(1,)]


@pytest.mark.parametrize("version, rewrites", [("PostgreSQL 10.23", True), ("PostgreSQL 11.0", False)])
def test_add_column_with_constant_default_rewrites_only_before_11(version, rewrites):
    op = statement_operations("ALTER TABLE t ADD COLUMN c int DEFAULT 5", "postgres")[0]
    assert lock_impact(op, Server.parse("postgres", version)).rewrites_table is rewrites


def test_set_not_null_skips_the_scan_with_a_validated_check_on_12_and_later(db):
    url, engine = db
    engine.execute("ALTER TABLE t ADD CONSTRAINT t_v_not_null CHECK (v IS NOT NULL)")
    op = statement_operations("ALTER TABLE t ALTER COLUMN v SET NOT NULL", "postgres")[0]
    schema = read_schema(engine)
    assert not lock_impact(op, Server.parse("postgres", "PostgreSQL 15.2"), schema).scans_table
    assert lock_impact(op, Server.parse("postgres", "PostgreSQL 11.9"), schema).scans_table
