"""How long a statement works on its table and how much disk it needs while it does, from the
table's catalog size and the throughput measured on this server (stats.throughput)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..locks import LockImpact
from ..model import Operation
from ..schema import Snapshot
from ..stats import TableSize, Throughput

METADATA_SECONDS = 0.001
CONCURRENT_FACTOR = 2.0  # CREATE INDEX CONCURRENTLY scans the table twice and waits for old snapshots
_TYPE_WIDTH = {"integer": 8, "decimal": 12, "float": 8, "temporal": 8, "boolean": 1, "uuid": 16, "string": 32}
_INDEX_TUPLE_OVERHEAD = 16  # index tuple header + item pointer, per row
_FILL = 0.9  # B-tree leaf fill factor


@dataclass
class Estimate:
    seconds: float
    basis: str
    extra_disk_bytes: int = 0


def estimate(op: Operation, claim: LockImpact, size: TableSize | None, speed: Throughput, schema: Snapshot,
             key_width: float | None, referenced: TableSize | None = None) -> Estimate:
    if size is None or size.rows == 0:
        return Estimate(METADATA_SECONDS, "new or empty table: nothing to scan or copy")
    if op.kind in ("update", "delete"):
        table = schema.table(op.table or "")
        # Each index adds an entry per changed row; the calibration table had two.
        indexes = len(table.indexes) if table is not None else 2
        seconds = size.rows / speed.update_rows_per_s * (1 + indexes) / 3
        return Estimate(seconds, f"at most every row ({size.rows:,}, {indexes} index(es)) changed at "
                        f"{_rate(speed.update_rows_per_s)} rows/s measured here (fewer if its WHERE matches fewer)")
    if claim.rewrites_table:
        return _rewrite(op, size, speed, schema)
    if claim.builds_index:
        return _index_build(op, size, speed, schema, key_width)
    if claim.scans_table:
        return _scan(size, speed, referenced)
    return Estimate(METADATA_SECONDS, "catalog change only: no scan, no copy")


def _rewrite(op: Operation, size: TableSize, speed: Throughput, schema: Snapshot) -> Estimate:
    if speed.rewrite_bytes_per_s and size.table_bytes:
        copy = size.table_bytes / speed.rewrite_bytes_per_s
        basis = f"copy of {_mb(size.table_bytes)} at {_mb(speed.rewrite_bytes_per_s)}/s"
    else:
        copy = size.rows / speed.rewrite_rows_per_s
        basis = f"copy of {size.rows:,} rows at {_rate(speed.rewrite_rows_per_s)} rows/s"
    table = schema.table(op.table or "")
    indexes = list(table.indexes.values()) if table is not None else []
    rebuild = sum(_index_seconds(size.rows, speed, _family(schema, op.table, i.columns)) for i in indexes)
    if indexes:
        basis += f", then {len(indexes)} index(es) rebuilt"
    return Estimate(copy + rebuild, basis + " (measured on this server)", size.table_bytes + size.index_bytes)


def _index_build(op: Operation, size: TableSize, speed: Throughput, schema: Snapshot,
                 key_width: float | None) -> Estimate:
    family = _family(schema, op.table, op.columns)
    seconds = _index_seconds(size.rows, speed, family)
    basis = f"index build over {size.rows:,} rows at {_rate(speed.index_rows_per_s.get(family, 0))} {family}-key " \
            "rows/s measured here"
    if op.concurrently:
        seconds *= CONCURRENT_FACTOR
        basis += ", twice for CONCURRENTLY (two passes)"
    width = key_width if key_width is not None else _default_width(schema, op.table, op.columns)
    disk = int(size.rows * (width + _INDEX_TUPLE_OVERHEAD) / _FILL)
    return Estimate(seconds, basis, disk)


def _scan(size: TableSize, speed: Throughput, referenced: TableSize | None) -> Estimate:
    if referenced is not None:  # a foreign key is checked with one anti-join of both tables
        rows = size.rows + referenced.rows
        return Estimate(rows / speed.join_rows_per_s, f"anti-join of {size.rows:,} rows with the {referenced.rows:,} "
                        f"referenced rows at {_rate(speed.join_rows_per_s)} rows/s measured on this server")
    scanned = [size]
    if speed.scan_bytes_per_s and all(s.table_bytes for s in scanned):
        total = sum(s.table_bytes for s in scanned)
        seconds = total / speed.scan_bytes_per_s
        basis = f"scan of {_mb(total)} at {_mb(speed.scan_bytes_per_s)}/s"
    else:
        rows = sum(s.rows for s in scanned)
        seconds = rows / speed.scan_rows_per_s
        basis = f"scan of {rows:,} rows at {_rate(speed.scan_rows_per_s)} rows/s"
    return Estimate(seconds, basis + " measured on this server")


def _index_seconds(rows: int, speed: Throughput, family: str) -> float:
    """Sorting grows as n log n: scale the calibration rate by log(n) / log(n0)."""
    rate = speed.index_rows_per_s.get(family) or speed.index_rows_per_s["integer"]
    growth = max(1.0, math.log2(max(rows, 2)) / math.log2(max(speed.rows, 2)))
    return rows / rate * growth


def _family(schema: Snapshot, table_name: str | None, columns: list[str] | tuple[str, ...]) -> str:
    table = schema.table(table_name or "")
    column = table.column(columns[0]) if table is not None and columns else None
    return "string" if column is not None and column.type.family in ("string", "json", "other") else "integer"


def _default_width(schema: Snapshot, table_name: str | None, columns: list[str]) -> float:
    table = schema.table(table_name or "")
    if table is None or not columns:
        return 16.0
    found = [table.column(c) for c in columns]
    return float(sum(_TYPE_WIDTH.get(c.type.family, 16) if c is not None else 16 for c in found))


def _mb(value: float) -> str:
    return f"{value / 1_048_576:,.1f} MB"


def _rate(value: float) -> str:
    return f"{value:,.0f}"
