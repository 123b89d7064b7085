"""SQLite statistics: exact row counts (tables are local and small), dbstat sizes where compiled in,
throughput on a TEMP table. SQLite keeps no activity statistics."""

from __future__ import annotations

from . import Activity, TableSize, Throughput, timed


def table_sizes(engine, tables: list[str]) -> list[TableSize]:
    known = {t.lower(): t for t in engine.tables()}
    sizes = []
    for name in (known[t.lower()] for t in tables if t.lower() in known):
        stats = engine.table_stats(name)
        sizes.append(TableSize(table=name, rows=stats.rows, rows_source="count(*)", table_bytes=stats.bytes,
                               index_bytes=0, avg_row_bytes=stats.bytes / stats.rows if stats.rows else 0.0))
    return sizes


def key_width(engine, table: str, columns: list[str]) -> float | None:
    return None


def activity(engine) -> Activity:
    return Activity(active_sessions=0, open_transactions=0, source="SQLite keeps no activity statistics")


def load(engine, sample_s: float) -> tuple[None, None]:
    return None, None


def watch_query(tables: list[str]) -> str:
    return "-- SQLite has one writer: a waiting writer reports 'database is locked' after busy_timeout."


# How a foreign key is checked: every row looked up in the referenced table.
_ANTI_JOIN = ("SELECT count(*) FROM temp.mm_calibration a "
              "LEFT JOIN temp.mm_calibration b ON b.id = a.id WHERE b.id IS NULL")


def measure_throughput(engine, rows: int) -> Throughput:
    engine.execute("DROP TABLE IF EXISTS temp.mm_calibration")
    engine.execute(f"CREATE TEMP TABLE mm_calibration AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                   f"FROM g WHERE n < {int(rows)}) SELECT n AS id, (n * 7919) % {int(rows)} AS k, "
                   "hex(randomblob(16)) AS s FROM g")
    try:
        scan = timed(lambda: engine.query("SELECT count(*) FROM temp.mm_calibration WHERE k IS NULL"))
        rewrite = timed(lambda: engine.execute("CREATE TEMP TABLE mm_copy AS SELECT * FROM temp.mm_calibration"))
        integer = timed(lambda: engine.execute("CREATE INDEX temp.mm_k ON mm_calibration (k)"))
        string = timed(lambda: engine.execute("CREATE INDEX temp.mm_s ON mm_calibration (s)"))
        update = timed(lambda: engine.execute("UPDATE temp.mm_calibration SET k = k + 1"))
        join = timed(lambda: engine.query(_ANTI_JOIN))
    finally:
        engine.execute("DROP TABLE IF EXISTS temp.mm_copy")
        engine.execute("DROP TABLE IF EXISTS temp.mm_calibration")
    return Throughput(rows=rows, scan_rows_per_s=rows / scan, rewrite_rows_per_s=rows / rewrite,
                      index_rows_per_s={"integer": rows / integer, "string": rows / string},
                      update_rows_per_s=rows / update, join_rows_per_s=2 * rows / join, measured_ms=0)
