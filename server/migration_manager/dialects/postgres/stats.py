"""PostgreSQL statistics: pg_class / pg_stat_user_tables sizes, pg_stat_activity and
pg_stat_database activity, throughput measured in a transaction that is rolled back."""

from __future__ import annotations

import time

from ...analysis.stats import Activity, TableSize, Throughput, Usage, names_in, timed

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
        sizes.append(
            TableSize(
                table=name,
                rows=rows,
                table_bytes=heap,
                index_bytes=indexes,
                rows_source="pg_class.reltuples" if analyzed else "pg_stat_user_tables.n_live_tup",
                avg_row_bytes=heap / rows if rows else 0.0,
            )
        )
    return sizes


def key_width(engine, table: str, columns: list[str]) -> float | None:
    found = engine.query(
        "SELECT sum(avg_width) FROM pg_stats WHERE schemaname = current_schema() AND "
        "tablename = %s AND attname = ANY(%s)",
        [table, columns],
    )
    return float(found[0][0]) if found and found[0][0] is not None else None


# Views and SQL-standard function bodies (BEGIN ATOMIC) are stored parsed and follow a rename;
# a function body stored as text (plpgsql, LANGUAGE sql AS $$...$$) is re-read at call time and breaks.
_FUNCTIONS = """
SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND strpos(lower(p.prosrc), lower(%s)) > 0
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')"""

_TABLE_USE = """
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del
FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = %s"""


def usage(engine, table: str, column: str | None = None) -> Usage:
    names = [table] + ([column] if column else [])
    breaks = [
        f"function {signature}" for signature, body in engine.query(_FUNCTIONS, [table]) if names_in(body, *names)
    ]
    used = engine.query(_TABLE_USE, [table])
    reads, writes = used[0] if used else (None, None)
    return Usage(
        breaks=breaks,
        reads=reads,
        writes=writes,
        source="pg_proc bodies; pg_stat_user_tables (since the statistics were reset)",
    )


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
    return Activity(
        active_sessions=active,
        open_transactions=open_tx,
        oldest_transaction_s=float(oldest) if oldest is not None else None,
        source="pg_stat_activity, pg_stat_database (transactions since the statistics reset)",
    )


def load(engine, sample_s: float) -> tuple[float | None, float]:
    """(average since the statistics reset, now) in transactions per second. Backends flush their
    counters about once a second: a shorter sample reads low."""
    total, seconds = engine.query(_TRANSACTIONS)[0]
    time.sleep(sample_s)
    later, _ = engine.query(_TRANSACTIONS)[0]
    return (float(total) / float(seconds) if seconds else None), (later - total) / sample_s


def watch_query(tables: list[str]) -> str:
    names = ", ".join(f"to_regclass('{t}')" for t in tables)
    return (
        "SELECT a.pid, l.mode, l.granted, pg_blocking_pids(a.pid) AS blocked_by, a.state, "
        "now() - a.xact_start AS in_transaction, left(a.query, 80) AS query\n"
        f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid\nWHERE l.relation IN ({names})\n"
        "ORDER BY l.granted, a.xact_start;"
    )


_CALIBRATION = """
CREATE TABLE {table} AS
SELECT g AS id, (g * 7919) % {rows} AS k, md5(g::text) AS s, now() AS t FROM generate_series(1, {rows}) g"""
# How a foreign key is checked: every row looked up in the referenced table.
_ANTI_JOIN = "SELECT count(*) FROM {table} a LEFT JOIN {table} b ON b.id = a.id WHERE b.id IS NULL"


CALIBRATION_ROWS = 50_000


def measure_throughput(engine, rows: int) -> Throughput:
    """Scan, rewrite, index, update and join rates fitted on two tables (rows / 5 and rows), created
    and measured inside one transaction that is rolled back: nothing is left behind, and the WAL
    is written as for a real table."""
    conn = engine.conn
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL synchronous_commit = off")
        small, big = (_calibrate(conn, f"mm_calibration_{n}", n) for n in (max(rows // 5, 1000), rows))
    return Throughput.fitted(
        rows,
        small,
        big,
        ddl_fixed_s=min(small["ddl"][2], big["ddl"][2]),
        sort_memory_bytes=engine.query(
            "SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'"
        )[0][0],
    )


def _calibrate(conn, table: str, rows: int) -> dict[str, tuple[int, int, float]]:
    """(rows, bytes, seconds) of each kind of work on a fresh table of `rows` rows."""
    conn.execute(_CALIBRATION.format(table=table, rows=int(rows)))
    heap = conn.execute(f"SELECT pg_relation_size('{table}')").fetchone()[0]
    conn.execute(f"SELECT count(*) FROM {table}")  # warm the buffers like a table in use
    return {
        "scan": (rows, heap, timed(lambda: conn.execute(f"SELECT count(*) FROM {table} WHERE k IS NULL"))),
        "ddl": (rows, heap, timed(lambda: conn.execute(f"ALTER TABLE {table} ADD COLUMN x int"))),
        "rewrite": (rows, heap, timed(lambda: conn.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint"))),
        "integer": (rows, 0, timed(lambda: conn.execute(f"CREATE INDEX ON {table} (k)"))),
        "string": (rows, 0, timed(lambda: conn.execute(f"CREATE INDEX ON {table} (s)"))),
        "join": (2 * rows, 0, timed(lambda: conn.execute(_ANTI_JOIN.format(table=table)))),
        "update": (rows, 0, timed(lambda: conn.execute(f"UPDATE {table} SET k = k + 1"))),
    }
