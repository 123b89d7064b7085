"""MySQL / MariaDB statistics: information_schema.TABLES sizes, PROCESSLIST / INNODB_TRX activity,
GLOBAL_STATUS load, throughput measured on a TEMPORARY table (never replicated, dropped at once)."""

from __future__ import annotations

import time

from . import Activity, TableSize, Throughput, timed

_SIZES = """SELECT table_name, coalesce(table_rows, 0), coalesce(data_length, 0), coalesce(index_length, 0),
coalesce(avg_row_length, 0) FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND lower(table_name) IN ({marks})"""


def table_sizes(engine, tables: list[str]) -> list[TableSize]:
    if not tables:
        return []
    found = engine.query(_SIZES.format(marks=", ".join(["%s"] * len(tables))), [t.lower() for t in tables])
    return [TableSize(table=_text(name), rows=int(rows), rows_source="information_schema.TABLES.TABLE_ROWS (InnoDB "
                      "estimate)", table_bytes=int(data), index_bytes=int(index), avg_row_bytes=float(avg))
            for name, rows, data, index, avg in found]


def key_width(engine, table: str, columns: list[str]) -> float | None:
    return None  # InnoDB keeps no per-column width statistics


_ACTIVITY = """SELECT
 (SELECT count(*) FROM information_schema.PROCESSLIST WHERE command NOT IN ('Sleep', 'Daemon') AND id <> CONNECTION_ID()),
 (SELECT count(*) FROM information_schema.INNODB_TRX),
 (SELECT max(TIMESTAMPDIFF(SECOND, trx_started, NOW())) FROM information_schema.INNODB_TRX)"""

_LOAD = "SELECT variable_name, variable_value FROM information_schema.GLOBAL_STATUS WHERE variable_name IN " \
        "('QUESTIONS', 'UPTIME')"


def activity(engine) -> Activity:
    active, open_tx, oldest = engine.query(_ACTIVITY)[0]
    return Activity(active_sessions=int(active), open_transactions=int(open_tx),
                    oldest_transaction_s=float(oldest) if oldest is not None else None,
                    source="PROCESSLIST, INNODB_TRX, GLOBAL_STATUS (queries per second since the server started)")


def load(engine, sample_s: float) -> tuple[float | None, float]:
    first = _load(engine)
    time.sleep(sample_s)
    second = _load(engine)
    average = first["QUESTIONS"] / first["UPTIME"] if first["UPTIME"] else None
    return average, (second["QUESTIONS"] - first["QUESTIONS"] - 1) / sample_s  # -1: our own query


def _load(engine) -> dict[str, float]:
    return {_text(name).upper(): float(value) for name, value in engine.query(_LOAD)}


def watch_query(tables: list[str]) -> str:
    names = " OR ".join(f"info LIKE '%{t}%'" for t in tables) or "TRUE"
    return ("SELECT id, user, time, state, left(info, 80) AS query FROM information_schema.PROCESSLIST\n"
            f"WHERE db = DATABASE() AND (state LIKE 'Waiting for%lock%' OR {names})\nORDER BY time DESC;")


def _digits(alias: str) -> str:
    return f"(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL " \
           f"SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) {alias}"


# How a foreign key is checked: every row looked up in the referenced table.
_ANTI_JOIN = ("SELECT count(*) FROM mm_calibration a "
              "LEFT JOIN mm_calibration b ON b.k = a.k WHERE b.k IS NULL")


def measure_throughput(engine, rows: int) -> Throughput:
    """TEMPORARY tables only allow ALGORITHM=COPY, so the index rate is that of a copy that also
    fills the index: an upper bound for an in-place build."""
    engine.execute("DROP TEMPORARY TABLE IF EXISTS mm_calibration")
    engine.execute("CREATE TEMPORARY TABLE mm_calibration (id int, k int, s char(32), t datetime) ENGINE=InnoDB")
    try:
        digits = " CROSS JOIN ".join(_digits(a) for a in "abcdef")
        engine.execute(f"INSERT INTO mm_calibration SELECT n, (n * 7919) % {int(rows)}, md5(n), NOW() FROM "
                       f"(SELECT a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d + 100000*f.d + 1 AS n FROM {digits}) g "
                       f"WHERE n <= {int(rows)}")
        engine.query("SELECT count(*) FROM mm_calibration")
        scan = timed(lambda: engine.query("SELECT count(*) FROM mm_calibration WHERE k IS NULL"))
        rewrite = timed(lambda: engine.execute("ALTER TABLE mm_calibration MODIFY id bigint"))
        with_integer = timed(lambda: engine.execute("ALTER TABLE mm_calibration ADD INDEX (k)"))
        with_string = timed(lambda: engine.execute("ALTER TABLE mm_calibration ADD INDEX (s)"))
        update = timed(lambda: engine.execute("UPDATE mm_calibration SET k = k + 1"))
        join = timed(lambda: engine.query(_ANTI_JOIN))
    finally:
        engine.execute("DROP TEMPORARY TABLE IF EXISTS mm_calibration")
    # Each ADD INDEX copied the table again: what it took beyond a plain copy is the index build.
    integer = max(with_integer - rewrite, rewrite * 0.1)
    string = max(with_string - with_integer, rewrite * 0.1)
    return Throughput(rows=rows, scan_rows_per_s=rows / scan, rewrite_rows_per_s=rows / rewrite,
                      index_rows_per_s={"integer": rows / integer, "string": rows / string},
                      update_rows_per_s=rows / update, join_rows_per_s=2 * rows / join, measured_ms=0)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
