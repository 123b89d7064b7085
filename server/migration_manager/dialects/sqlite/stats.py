"""SQLite statistics: exact row counts (tables are local and small), dbstat sizes where compiled in,
throughput on a TEMP table. SQLite keeps no activity statistics."""

from __future__ import annotations

from ...analysis.stats import Activity, TableSize, Throughput, Usage, timed


def table_sizes(engine, tables: list[str]) -> list[TableSize]:
    known = {t.lower(): t for t in engine.tables()}
    sizes = []
    for name in (known[t.lower()] for t in tables if t.lower() in known):
        stats = engine.table_stats(name)
        sizes.append(
            TableSize(
                table=name,
                rows=stats.rows,
                rows_source="count(*)",
                table_bytes=stats.bytes,
                index_bytes=0,
                avg_row_bytes=stats.bytes / stats.rows if stats.rows else 0.0,
            )
        )
    return sizes


def key_width(engine, table: str, columns: list[str]) -> float | None:
    return None


def activity(engine) -> Activity:
    return Activity(active_sessions=0, open_transactions=0, source="SQLite keeps no activity statistics")


def load(engine, sample_s: float) -> tuple[None, None]:
    return None, None


def usage(engine, table: str, column: str | None = None) -> Usage:
    # ALTER TABLE ... RENAME rewrites the views and triggers that name the table or column (3.26+).
    return Usage(source="SQLite renames inside views and triggers itself and keeps no use counters")


def watch_query(tables: list[str]) -> str:
    return "-- SQLite has one writer: a waiting writer reports 'database is locked' after busy_timeout."


# How a foreign key is checked: every row looked up in the referenced table.
_ANTI_JOIN = "SELECT count(*) FROM temp.{table} a LEFT JOIN temp.{table} b ON b.id = a.id WHERE b.id IS NULL"


CALIBRATION_ROWS = 50_000


def measure_throughput(engine, rows: int) -> Throughput:
    small, big = (_calibrate(engine, f"mm_calibration_{n}", n) for n in (max(rows // 5, 1000), rows))
    return Throughput.fitted(rows, small, big, ddl_fixed_s=0.0)


def _calibrate(engine, table: str, rows: int) -> dict[str, tuple[int, int, float]]:
    engine.execute(
        f"CREATE TEMP TABLE {table} AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
        f"FROM g WHERE n < {int(rows)}) SELECT n AS id, (n * 7919) % {int(rows)} AS k, "
        "hex(randomblob(16)) AS s FROM g"
    )
    try:

        def run(sql: str) -> tuple[int, int, float]:
            return rows, 0, timed(lambda: engine.execute(sql.format(table=table)))

        return {
            "scan": (rows, 0, timed(lambda: engine.query(f"SELECT count(*) FROM temp.{table} WHERE k IS NULL"))),
            "rewrite": run("CREATE TEMP TABLE {table}_copy AS SELECT * FROM temp.{table}"),
            "integer": run("CREATE INDEX temp.{table}_k ON {table} (k)"),
            "string": run("CREATE INDEX temp.{table}_s ON {table} (s)"),
            "join": (2 * rows, 0, timed(lambda: engine.query(_ANTI_JOIN.format(table=table)))),
            "update": run("UPDATE temp.{table} SET k = k + 1"),
        }
    finally:
        engine.execute(f"DROP TABLE IF EXISTS temp.{table}_copy")
        engine.execute(f"DROP TABLE IF EXISTS temp.{table}")
