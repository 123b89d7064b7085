"""The MariaDB/MySQL lock model, proven on the live server.

DDL cannot be held open in a transaction here, so each claim is put to the server itself: the
statement runs with exactly the claimed `ALGORITHM=..., LOCK=...` (accepted), and with the next
better algorithm or lock level (refused: ER_ALTER_OPERATION_NOT_SUPPORTED). A table rebuild shows
as a new InnoDB table id. A second session shows the metadata-lock queue.
"""

from __future__ import annotations

import threading
import time

import pymysql
import pytest

from migration_manager.analysis.locks import Server, combine, lock_impact
from migration_manager.analysis.operations import statement_operations
from migration_manager.analysis.schema import read_schema
from migration_manager.dialects import open_engine
from migration_manager.dialects.mysql.locks import RANK
from migration_manager.urls import parse_url

pytestmark = pytest.mark.mysql

SETUP = [
    "CREATE TABLE parent (id int PRIMARY KEY) ENGINE=InnoDB",
    "INSERT INTO parent VALUES (1), (2)",
    "CREATE TABLE t (id int PRIMARY KEY, v int, s varchar(20), n int NULL, pid int, KEY t_v (v), "
    "CONSTRAINT t_parent_fk FOREIGN KEY (pid) REFERENCES parent (id)) ENGINE=InnoDB",
    "INSERT INTO t VALUES (1, 1, 'x', 1, 1), (2, 2, 'y', 2, 2)",
]

CASES = [
    "ALTER TABLE t ADD COLUMN c int",
    "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 5 FIRST",
    "ALTER TABLE t ADD COLUMN c char(36) DEFAULT (uuid())",  # computed per row: the table is copied
    "ALTER TABLE t ADD COLUMN c datetime(6) DEFAULT (sysdate(6))",
    "ALTER TABLE t ADD COLUMN c double DEFAULT (rand())",  # MariaDB evaluates it once: instant
    "ALTER TABLE t DROP COLUMN n",
    "ALTER TABLE t RENAME COLUMN n TO n2",
    "ALTER TABLE t MODIFY v bigint",
    "ALTER TABLE t MODIFY s varchar(300)",
    "ALTER TABLE t MODIFY s text",
    "ALTER TABLE t MODIFY n int NOT NULL",
    "ALTER TABLE t MODIFY v int NULL",
    "ALTER TABLE t ALTER COLUMN v SET DEFAULT 3",
    "ALTER TABLE t ADD INDEX t_n (n)",
    "ALTER TABLE t ADD UNIQUE INDEX t_n_unique (n)",
    "ALTER TABLE t DROP INDEX t_v",
    "ALTER TABLE t ADD CONSTRAINT t_parent_fk2 FOREIGN KEY (pid) REFERENCES parent (id)",
    "ALTER TABLE t ADD CONSTRAINT t_v_positive CHECK (v > 0)",
    "ALTER TABLE t DROP FOREIGN KEY t_parent_fk",
    "ALTER TABLE t RENAME TO t_renamed",
]
LOCKS = ["NONE", "SHARED", "EXCLUSIVE"]
NOT_SUPPORTED = {1845, 1846}  # ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON)


@pytest.fixture
def db(mysql_url):
    engine = open_engine(mysql_url)
    for statement in SETUP:
        engine.execute(statement)
    yield mysql_url, engine
    engine.close()


def _server(engine) -> Server:
    return Server.parse("mysql", engine.server_version())


def _claim(engine, statement: str):
    schema = read_schema(engine)
    ops = [schema.resolve(op) for op in statement_operations(statement, "mysql")]
    return combine([lock_impact(op, _server(engine), schema) for op in ops])


def _table_id(engine, table: str):
    found = engine.query(
        "SELECT table_id FROM information_schema.INNODB_SYS_TABLES WHERE name = %s", [f"{engine.url.database}/{table}"]
    )
    return found[0][0] if found else None


def _attempt(engine, statement: str, algorithm: str, lock: str) -> int | None:
    """Run the statement with ALGORITHM/LOCK on a fresh copy of the tables; the error code or None."""
    engine.execute("DROP TABLE IF EXISTS t, t_renamed, parent")
    for setup in SETUP:
        engine.execute(setup)
    try:
        engine.execute(f"{statement}, ALGORITHM={algorithm}, LOCK={lock}")
    except pymysql.MySQLError as exc:
        return exc.args[0]
    return None


@pytest.mark.parametrize("statement", CASES)
def test_server_accepts_the_claimed_algorithm_and_refuses_a_better_one(db, statement):
    _, engine = db
    claim = _claim(engine, statement)
    level = claim.lock.rsplit("=", 1)[1]
    assert _attempt(engine, statement, claim.algorithm, level) is None
    if claim.algorithm != "INSTANT":
        better = RANK[RANK.index(claim.algorithm) - 1]
        assert _attempt(engine, statement, better, level) in NOT_SUPPORTED, f"{better} was accepted"
    if level != "NONE":
        assert _attempt(engine, statement, claim.algorithm, LOCKS[LOCKS.index(level) - 1]) in NOT_SUPPORTED
    assert claim.blocks_writes == (level != "NONE")
    assert claim.blocks_reads == (level == "EXCLUSIVE")


@pytest.mark.parametrize("statement", [s for s in CASES if "RENAME TO" not in s])
def test_rebuild_claim_matches_a_new_innodb_table(db, statement):
    _, engine = db
    claim = _claim(engine, statement)
    before = _table_id(engine, "t")
    engine.execute(statement)
    assert (_table_id(engine, "t") != before) == claim.rewrites_table


def test_create_index_statement_claim_is_accepted_by_the_server(db):
    _, engine = db
    claim = _claim(engine, "CREATE INDEX t_n ON t (n)")
    assert (claim.algorithm, claim.lock, claim.builds_index) == (
        "NOCOPY" if "mariadb" in engine.server_version().lower() else "INPLACE",
        "metadata lock, LOCK=NONE",
        True,
    )
    engine.execute(f"CREATE INDEX t_n ON t (n) ALGORITHM={claim.algorithm} LOCK=NONE")
    with pytest.raises(pymysql.MySQLError) as refused:
        engine.execute("CREATE INDEX t_s ON t (s) ALGORITHM=INSTANT LOCK=NONE")
    assert refused.value.args[0] in NOT_SUPPORTED


def _session(url: str) -> pymysql.Connection:
    parsed = parse_url(url)
    return pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.user or "root",
        password="",
        database=parsed.database,
        autocommit=True,
    )


def test_instant_alter_queues_behind_an_open_transaction_and_blocks_reads_behind_it(db):
    """INSTANT and LOCK=NONE, yet the exclusive metadata lock waits for a reader's transaction,
    and a new read waits behind it: the 'queues behind open transactions' of the report."""
    url, engine = db
    claim = _claim(engine, "ALTER TABLE t ADD COLUMN c int")
    assert claim.algorithm == "INSTANT" and not claim.blocks_reads and "queues behind" in claim.explanation
    reader, migrator, other = _session(url), _session(url), _session(url)
    try:
        reader.begin()
        reader.cursor().execute("SELECT count(*) FROM t")  # holds a shared metadata lock until commit
        alter = threading.Thread(target=migrator.cursor().execute, args=("ALTER TABLE t ADD COLUMN c int",))
        alter.start()
        deadline = time.monotonic() + 10
        while not engine.query(
            "SELECT 1 FROM information_schema.PROCESSLIST WHERE state = "
            "'Waiting for table metadata lock' AND info LIKE 'ALTER TABLE t%%'"
        ):
            assert time.monotonic() < deadline, "the ALTER never waited"
            time.sleep(0.02)
        with other.cursor() as cur:
            cur.execute("SET SESSION lock_wait_timeout = 1")
            with pytest.raises(pymysql.MySQLError) as waited:
                cur.execute("SELECT count(*) FROM t")
        assert waited.value.args[0] == 1205  # lock wait timeout: the read queued behind the ALTER
        reader.commit()
        alter.join(timeout=30)
    finally:
        for session in (reader, migrator, other):
            session.close()
    assert engine.query(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = 't' AND column_name = 'c'"
    ) == [(1,)]
