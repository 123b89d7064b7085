"""PostgreSQL statistics: pg_class / pg_stat_user_tables sizes, pg_stat_activity and
pg_stat_database activity, throughput measured in a transaction that is rolled back."""

from __future__ import annotations

import time

from . import Activity, TableSize, Throughput, timed

_SIZES = """
SELECT c.relname, c.reltuples::bigint, s.n_live_tup, pg_relation_size(c.oid), pg_indexes_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm') AND lower(c.relname) = ANY(%s)"""


def table_sizes(engine, tables: list[str]) -> list[TableSize]:
    sizes = []
    for name, reltuples, live, heap, indexes in engine.query(_SIZES, [[t.lower() for t in tables]]):
        # reltuples is -1 until the first VACUUM/ANALYZE (14+); n_live_tup counts inserts meanwhile.
        analyzed = reltuples is not None and reltuples >= 0
        rows = int(reltuples) if analyzed else int(live or 0)
        sizes.append(TableSize(table=name, rows=rows, table_bytes=heap, index_bytes=indexes,
                               rows_source="pg_class.reltuples" if analyzed else "pg_stat_user_tables.n_live_tup",
                               avg_row_bytes=heap / rows if rows else 0.0))
    return sizes


def key_width(engine, table: str, columns: list[str]) -> float | None:
    found = engine.query("SELECT sum(avg_width) FROM pg_stats WHERE schemaname = current_schema() AND "
                         "tablename = %s AND attname = ANY(%s)", [table, columns])
    return float(found[0][0]) if found and found[0][0] is not None else None


_ACTIVITY = """
SELECT count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid()),
       count(*) FILTER (WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()),
       extract(epoch FROM max(now() - xact_start) FILTER (WHERE pid <> pg_backend_pid()))
FROM pg_stat_activity WHERE datname = current_database()"""

_TRANSACTIONS = """
SELECT xact_commit + xact_rollback, extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))
FROM pg_stat_database WHERE datname = current_database()"""


def activity(engine) -> Activity:
    active, open_tx, oldest = engine.query(_ACTIVITY)[0]
    return Activity(active_sessions=active, open_transactions=open_tx,
                    oldest_transaction_s=float(oldest) if oldest is not None else None,
                    source="pg_stat_activity, pg_stat_database (transactions since the statistics reset)")


def load(engine, sample_s: float) -> tuple[float | None, float]:
    """(average since the statistics reset, now) in transactions per second. Backends flush their
    counters about once a second: a shorter sample reads low."""
    total, seconds = engine.query(_TRANSACTIONS)[0]
    time.sleep(sample_s)
    later, _ = engine.query(_TRANSACTIONS)[0]
    return (float(total) / float(seconds) if seconds else None), (later - total) / sample_s


def watch_query(tables: list[str]) -> str:
    names = ", ".join(f"to_regclass('{t}')" for t in tables)
    return ("SELECT a.pid, l.mode, l.granted, pg_blocking_pids(a.pid) AS blocked_by, a.state, "
            "now() - a.xact_start AS in_transaction, left(a.query, 80) AS query\n"
            f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid\nWHERE l.relation IN ({names})\n"
            "ORDER BY l.granted, a.xact_start;")


_CALIBRATION = """
CREATE TABLE mm_calibration AS
SELECT g AS id, (g * 7919) % {rows} AS k, md5(g::text) AS s, now() AS t FROM generate_series(1, {rows}) g"""


# How a foreign key is checked: every row looked up in the referenced table.
_ANTI_JOIN = ("SELECT count(*) FROM mm_calibration a "
              "LEFT JOIN mm_calibration b ON b.id = a.id WHERE b.id IS NULL")


def measure_throughput(engine, rows: int) -> Throughput:
    """Scan, rewrite and index-build rates on a table created and measured inside one transaction
    that is rolled back: nothing is left behind, and the WAL is written as for a real table."""
    conn = engine.conn
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute(_CALIBRATION.format(rows=int(rows)))
        heap = conn.execute("SELECT pg_relation_size('mm_calibration')").fetchone()[0]
        conn.execute("SELECT count(*) FROM mm_calibration")  # warm the buffers like a table in use
        scan = timed(lambda: conn.execute("SELECT count(*) FROM mm_calibration WHERE k IS NULL"))
        rewrite = timed(lambda: conn.execute("ALTER TABLE mm_calibration ALTER COLUMN id TYPE bigint"))
        integer = timed(lambda: conn.execute("CREATE INDEX ON mm_calibration (k)"))
        string = timed(lambda: conn.execute("CREATE INDEX ON mm_calibration (s)"))
        update = timed(lambda: conn.execute("UPDATE mm_calibration SET k = k + 1"))
        join = timed(lambda: conn.execute(_ANTI_JOIN))
    return Throughput(rows=rows, scan_rows_per_s=rows / scan, scan_bytes_per_s=heap / scan,
                      rewrite_rows_per_s=rows / rewrite, rewrite_bytes_per_s=heap / rewrite,
                      index_rows_per_s={"integer": rows / integer, "string": rows / string},
                      update_rows_per_s=rows / update, join_rows_per_s=2 * rows / join, measured_ms=0)
