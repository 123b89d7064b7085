"""The Performance Impact Report against real servers: catalog numbers match the seeded tables,
disk estimates match what the server then uses, the watch query shows a waiting session, and the
report's claims are consistent with its lock model. No wall-clock time is asserted."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from dbcheck import make_project
from migration_manager.analysis import stats
from migration_manager.analysis.impact.plan import impact_for_plan
from migration_manager.dialects import open_engine

from .simulate_cases import write_migrations

ROWS = 20_000
DIGITS = (
    "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL "
    "SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
)


@pytest.fixture
def pg(pg_url):
    engine = open_engine(pg_url)
    engine.execute("CREATE TABLE items (id int PRIMARY KEY, v int, label text, pid int)")
    engine.execute("CREATE TABLE parents (id int PRIMARY KEY)")
    engine.execute("INSERT INTO parents SELECT generate_series(1, 100)")
    engine.execute(f"INSERT INTO items SELECT g, g % 97, md5(g::text), 1 + g % 100 FROM generate_series(1, {ROWS}) g")
    engine.execute("VACUUM ANALYZE items")
    engine.execute("VACUUM ANALYZE parents")
    yield pg_url, engine
    engine.close()


def _impact(engine, tmp_path, sql: str):
    migrations = write_migrations(tmp_path, engine.dialect, [(sql, None)])
    return impact_for_plan(engine, migrations, activity_sample_s=0.05)


def test_catalog_numbers_match_the_seeded_table(pg, tmp_path):
    _, engine = pg
    [report] = _impact(engine, tmp_path, "ALTER TABLE items ALTER COLUMN v TYPE bigint;")
    assert report.rows == ROWS == engine.query("SELECT count(*) FROM items")[0][0]
    assert report.rows_source == "pg_class.reltuples"
    assert report.table_bytes == engine.query("SELECT pg_relation_size('items')")[0][0]
    assert report.index_bytes == engine.query("SELECT pg_indexes_size('items')")[0][0]
    # a rewrite writes a new copy of the table and its indexes before the old one goes
    assert report.extra_disk_bytes == report.table_bytes + report.index_bytes
    assert report.rewrites_table and report.blocks_reads and report.blocked_seconds == report.estimated_seconds > 0


def test_rows_of_a_table_never_analyzed_come_from_the_insert_counters(pg_url, tmp_path):
    engine = open_engine(pg_url)
    engine.execute("CREATE TABLE fresh (id int)")
    engine.execute("INSERT INTO fresh SELECT generate_series(1, 1234)")
    deadline = time.monotonic() + 5  # the inserting backend flushes its counters within a second
    while engine.query("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'fresh'") != [(1234,)]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [report] = _impact(engine, tmp_path, "CREATE INDEX fresh_id ON fresh (id);")
    engine.close()
    assert (report.rows, report.rows_source) == (1234, "pg_stat_user_tables.n_live_tup")


def test_index_disk_estimate_is_within_a_factor_two_of_the_built_index(pg, tmp_path):
    _, engine = pg
    [report] = _impact(engine, tmp_path, "CREATE INDEX items_label ON items (label);")
    assert report.builds_index and report.lock == "SHARE" and report.blocks == "writes"
    engine.execute("CREATE INDEX items_label ON items (label)")
    built = engine.query("SELECT pg_relation_size('items_label')")[0][0]
    assert built / 2 <= report.extra_disk_bytes <= built * 2, (report.extra_disk_bytes, built)


def test_concurrent_index_blocks_nobody_so_nothing_waits_for_it(pg, tmp_path):
    _, engine = pg
    [report] = _impact(engine, tmp_path, "CREATE INDEX CONCURRENTLY items_v ON items (v);")
    assert (report.lock, report.blocks_reads, report.blocks_writes) == ("SHARE UPDATE EXCLUSIVE", False, False)
    assert report.estimated_seconds > report.blocked_seconds
    assert report.impact == "low" and not any("CONCURRENTLY" in r for r in report.recommendations)


def test_foreign_key_report_names_both_tables_and_the_safer_way(pg, tmp_path):
    _, engine = pg
    [report] = _impact(
        engine, tmp_path, "ALTER TABLE items ADD CONSTRAINT items_parent FOREIGN KEY (pid) REFERENCES parents (id);"
    )
    assert report.other_tables == {"parents": "SHARE ROW EXCLUSIVE"}
    assert report.scans_table and report.blocks == "writes"
    assert "NOT VALID" in report.recommendations[0]
    assert "to_regclass('items')" in report.watch_query and "to_regclass('parents')" in report.watch_query


def test_statements_after_a_create_table_see_a_new_empty_table(pg, tmp_path):
    _, engine = pg
    reports = _impact(engine, tmp_path, "CREATE TABLE audit (id int);\nCREATE INDEX audit_id ON audit (id);")
    assert [r.rows for r in reports] == [None, None]
    assert reports[1].estimate_basis.startswith("new or empty table")


def test_older_servers_that_behave_differently_are_named(pg, tmp_path):
    _, engine = pg
    [report] = _impact(engine, tmp_path, "ALTER TABLE items ADD COLUMN flag int DEFAULT 0;")
    assert not report.rewrites_table
    assert "rewrites the table" in report.other_versions["PostgreSQL 10.0"]


def test_watch_query_shows_the_session_waiting_for_the_lock(pg, tmp_path):
    url, engine = pg
    [report] = _impact(engine, tmp_path, "ALTER TABLE items ADD COLUMN note text;")
    with psycopg.connect(url) as reader, psycopg.connect(url, autocommit=True) as migrator:
        reader.execute("SELECT count(*) FROM items")  # an open transaction holding ACCESS SHARE
        alter = threading.Thread(target=migrator.execute, args=("ALTER TABLE items ADD COLUMN note text",))
        alter.start()
        deadline = time.monotonic() + 10
        while not [r for r in engine.query(report.watch_query) if r[1] == "AccessExclusiveLock" and not r[2]]:
            assert time.monotonic() < deadline, "the watch query never showed the waiting ALTER"
            time.sleep(0.02)
        waiting = [r for r in engine.query(report.watch_query) if not r[2]][0]
        assert waiting[3] == [reader.info.backend_pid]  # blocked_by: the reader's session
        reader.rollback()
        alter.join(timeout=30)


def test_activity_counts_open_transactions_and_their_age(pg):
    url, engine = pg
    with psycopg.connect(url) as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it open
        time.sleep(0.3)
        seen = stats.with_current_load(engine, stats.activity(engine), 0.05)
        idle.rollback()
    assert seen.open_transactions >= 1 and seen.oldest_transaction_s >= 0.3
    assert seen.average_tps is not None and seen.average_tps > 0


@pytest.mark.mysql
def test_mysql_catalog_sizes_and_copy_claim(mysql_url, tmp_path):
    engine = open_engine(mysql_url)
    engine.execute("CREATE TABLE items (id int PRIMARY KEY, v int, label varchar(40)) ENGINE=InnoDB")
    engine.execute(
        "INSERT INTO items SELECT n, n % 97, md5(n) FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d "
        f"AS n FROM {DIGITS} a, {DIGITS} b, {DIGITS} c, {DIGITS} e) g WHERE n BETWEEN 1 AND 5000"
    )
    engine.execute("ANALYZE TABLE items")
    [report] = _impact(engine, tmp_path, "ALTER TABLE items MODIFY v bigint;")
    data, index = engine.query(
        "SELECT data_length, index_length FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name = 'items'"
    )[0]
    engine.close()
    assert (report.table_bytes, report.index_bytes) == (data, index)
    assert 5000 * 0.5 <= report.rows <= 5000 * 1.5  # InnoDB's row count is a sampled estimate
    assert (report.algorithm, report.lock, report.blocks) == ("COPY", "metadata lock, LOCK=SHARED", "writes")
    assert report.rewrites_table and report.extra_disk_bytes == data + index


def _project(root, url: str, **settings):
    make_project(root, url, **settings)
    (root / "migrations" / "1_retype.sql").write_text(
        "-- UP\nALTER TABLE items ALTER COLUMN v TYPE bigint;\nALTER TABLE items ADD COLUMN note text;\n"
        "-- DOWN\nALTER TABLE items DROP COLUMN note;\nALTER TABLE items ALTER COLUMN v TYPE int;\n"
    )
    return root


def test_analyze_fills_the_impact_report_and_the_cli_shows_it(pg, tmp_path, capsys):
    from migration_manager.service import AnalyzeRequest, analyze
    from migration_manager.surfaces.cli.app import main

    url, _ = pg
    project = _project(tmp_path / "p", url)
    report = analyze(AnalyzeRequest(project_dir=project, env="dev"))
    assert [(i.statement_index, i.operations, i.rewrites_table) for i in report.impact] == [
        (1, ["alter_column_type"], True),
        (2, ["add_column"], False),
    ]
    assert report.impact[0].rows == ROWS
    assert main(["analyze", "--project", str(project), "--env", "dev"]) == 0
    shown = capsys.readouterr().out
    assert "Performance impact" in shown and "ACCESS EXCLUSIVE" in shown and "reads and writes" in shown


def test_performance_analysis_off_leaves_the_impact_report_empty(pg, tmp_path):
    from migration_manager.service import AnalyzeRequest, analyze

    url, _ = pg
    project = _project(tmp_path / "p", url, validation={"performanceAnalysis": False})
    assert analyze(AnalyzeRequest(project_dir=project, env="dev")).impact == []
