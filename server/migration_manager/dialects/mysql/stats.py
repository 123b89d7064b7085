"""MySQL / MariaDB statistics: information_schema.TABLES sizes, PROCESSLIST / INNODB_TRX activity,
GLOBAL_STATUS load, throughput measured on a TEMPORARY table (never replicated, dropped at once)."""

from __future__ import annotations

import time
import uuid

from ...analysis.stats import Activity, TableSize, Throughput, Usage, names_in, timed

_SIZES = """SELECT table_name, coalesce(table_rows, 0), coalesce(data_length, 0), coalesce(index_length, 0),
coalesce(avg_row_length, 0) FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' AND lower(table_name) IN ({marks})"""


def table_sizes(engine, tables: list[str]) -> list[TableSize]:
    if not tables:
        return []
    found = engine.query(_SIZES.format(marks=", ".join(["%s"] * len(tables))), [t.lower() for t in tables])
    return [
        TableSize(
            table=_text(name),
            rows=int(rows),
            rows_source="information_schema.TABLES.TABLE_ROWS (InnoDB estimate)",
            table_bytes=int(data),
            index_bytes=int(index),
            avg_row_bytes=float(avg),
        )
        for name, rows, data, index, avg in found
    ]


def key_width(engine, table: str, columns: list[str]) -> float | None:
    return None  # InnoDB keeps no per-column width statistics


_ACTIVITY = """SELECT
 (SELECT count(*) FROM information_schema.PROCESSLIST WHERE command NOT IN ('Sleep', 'Daemon') AND id <> CONNECTION_ID()),
 (SELECT count(*) FROM information_schema.INNODB_TRX),
 (SELECT max(TIMESTAMPDIFF(SECOND, trx_started, NOW())) FROM information_schema.INNODB_TRX)"""

_LOAD = (
    "SELECT variable_name, variable_value FROM information_schema.GLOBAL_STATUS WHERE variable_name IN "
    "('QUESTIONS', 'UPTIME')"
)


def activity(engine) -> Activity:
    active, open_tx, oldest = engine.query(_ACTIVITY)[0]
    return Activity(
        active_sessions=int(active),
        open_transactions=int(open_tx),
        oldest_transaction_s=float(oldest) if oldest is not None else None,
        source="PROCESSLIST, INNODB_TRX, GLOBAL_STATUS (queries per second since the server started)",
    )


def load(engine, sample_s: float) -> tuple[float | None, float]:
    first = _load(engine)
    time.sleep(sample_s)
    second = _load(engine)
    average = first["QUESTIONS"] / first["UPTIME"] if first["UPTIME"] else None
    return average, (second["QUESTIONS"] - first["QUESTIONS"] - 1) / sample_s  # -1: our own query


def _load(engine) -> dict[str, float]:
    return {_text(name).upper(): float(value) for name, value in engine.query(_LOAD)}


# Views, triggers and routines are stored as text: after a rename each one naming the old name fails
# (ER_VIEW_INVALID 1356, "Unknown column" in a trigger). A trigger moves with its own table on RENAME
# TABLE, but its body's NEW.column / OLD.column name that table's columns.
_STORED_TEXT = """
SELECT CONCAT('view ', table_name), view_definition, NULL FROM information_schema.VIEWS
WHERE table_schema = DATABASE()
UNION ALL
SELECT CONCAT('trigger ', trigger_name), action_statement, event_object_table FROM information_schema.TRIGGERS
WHERE trigger_schema = DATABASE()
UNION ALL
SELECT CONCAT(lower(routine_type), ' ', routine_name), routine_definition, NULL FROM information_schema.ROUTINES
WHERE routine_schema = DATABASE()"""


def usage(engine, table: str, column: str | None = None) -> Usage:
    breaks = []
    for what, text, own_table in engine.query(_STORED_TEXT):
        text = _text(text) or ""
        if column is not None and own_table is not None and _text(own_table).lower() == table.lower():
            text = f"{table} {text}"  # NEW.column in a trigger of this very table
        if names_in(text, table, *([column] if column else [])):
            breaks.append(_text(what))
    return Usage(
        breaks=breaks,
        source="information_schema VIEWS, TRIGGERS, ROUTINES (no per-table use counters "
        "without userstat / performance_schema)",
    )


def watch_query(tables: list[str]) -> str:
    names = " OR ".join(f"info LIKE '%{t}%'" for t in tables) or "TRUE"
    return (
        "SELECT id, user, time, state, left(info, 80) AS query FROM information_schema.PROCESSLIST\n"
        f"WHERE db = DATABASE() AND (state LIKE 'Waiting for%lock%' OR {names})\nORDER BY time DESC;"
    )


def _digits(alias: str) -> str:
    return (
        f"(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL "
        f"SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) {alias}"
    )


_NUMBERS = "SELECT a.d + 10*b.d + 100*c.d + 1000*d.d + 10000*e.d + 100000*f.d + 1 AS n FROM " + " CROSS JOIN ".join(
    _digits(a) for a in "abcdef"
)
# How a foreign key is checked: every row looked up in the referenced table's index.
_ANTI_JOIN = "SELECT count(*) FROM {table} a LEFT JOIN {table} b ON b.k = a.k WHERE b.k IS NULL"


CALIBRATION_ROWS = 30_000


def measure_throughput(engine, rows: int) -> Throughput:
    """Rates fitted on two real InnoDB tables (rows / 5 and rows), dropped at once: a TEMPORARY
    table only allows ALGORITHM=COPY and writes no redo log, so it would mislead. Binary logging is
    turned off for the session where the user may (SUPER), so replicas never see them."""
    _quietly(engine, "SET SESSION sql_log_bin = 0")
    try:
        small, big = (
            _calibrate(engine, f"mm_calibration_{uuid.uuid4().hex[:8]}", n) for n in (max(rows // 5, 1000), rows)
        )
    finally:
        _quietly(engine, "SET SESSION sql_log_bin = 1")
    return Throughput.fitted(rows, small, big, ddl_fixed_s=min(small["ddl"][2], big["ddl"][2]))


def _calibrate(engine, table: str, rows: int) -> dict[str, tuple[int, int, float]]:
    engine.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, k int, s char(32), t datetime) ENGINE=InnoDB")
    try:
        engine.execute(
            f"INSERT INTO {table} SELECT n, (n * 7919) % {int(rows)}, md5(n), NOW() FROM ({_NUMBERS}) g "
            f"WHERE n <= {int(rows)}"
        )
        engine.query(f"SELECT count(*) FROM {table}")

        def run(sql: str) -> tuple[int, int, float]:
            return rows, 0, timed(lambda: engine.execute(sql.format(table=table)))

        return {
            "scan": (rows, 0, timed(lambda: engine.query(f"SELECT count(*) FROM {table} WHERE k IS NULL"))),
            "ddl": run("ALTER TABLE {table} ADD COLUMN x int, ALGORITHM=INSTANT"),
            "rewrite": run("ALTER TABLE {table} MODIFY k bigint, ALGORITHM=COPY"),
            "rebuild": run("ALTER TABLE {table} FORCE, ALGORITHM=INPLACE"),
            "integer": run("ALTER TABLE {table} ADD INDEX (k), ALGORITHM=INPLACE"),
            "string": run("ALTER TABLE {table} ADD INDEX (s), ALGORITHM=INPLACE"),
            "join": (2 * rows, 0, timed(lambda: engine.query(_ANTI_JOIN.format(table=table)))),
            "update": run("UPDATE {table} SET k = k + 1"),
        }
    finally:
        engine.execute(f"DROP TABLE IF EXISTS {table}")


def _quietly(engine, sql: str) -> None:
    try:
        engine.execute(sql)
    except Exception:  # noqa: BLE001 - no SUPER privilege: the scratch tables are logged, nothing worse
        pass


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
