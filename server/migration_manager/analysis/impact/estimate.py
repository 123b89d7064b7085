"""How long a statement works on its table and how much disk it needs while it does, from the
table's catalog size and the throughput measured on this server (stats.throughput)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..locks import LockImpact
from ..model import Operation
from ..schema import Snapshot
from ..stats import Rate, TableSize, Throughput

METADATA_SECONDS = 0.001
CONCURRENT_FACTOR = 1.2  # CREATE INDEX CONCURRENTLY: a second pass over the rows changed meanwhile
_TYPE_WIDTH = {"integer": 8, "decimal": 12, "float": 8, "temporal": 8, "boolean": 1, "uuid": 16, "string": 32}
_INDEX_TUPLE_OVERHEAD = 16  # index tuple header + item pointer, per row
_FILL = 0.9  # B-tree leaf fill factor
_SORT_TUPLE_OVERHEAD = 64  # bytes per row an in-memory sort holds beyond the key (tuple, slot, allocation)
EXTERNAL_SORT_FACTOR = 2.5  # a sort that spills to disk (merge passes) against one in memory


@dataclass
class Estimate:
    seconds: float
    basis: str
    extra_disk_bytes: int = 0


def estimate(
    op: Operation,
    claim: LockImpact,
    size: TableSize | None,
    speed: Throughput,
    schema: Snapshot,
    key_width: float | None,
    referenced: TableSize | None = None,
) -> Estimate:
    if size is None or size.rows == 0:
        return Estimate(max(speed.ddl_fixed_s, METADATA_SECONDS), "new or empty table: nothing to scan or copy")
    if op.kind in ("update", "delete"):
        return _dml(op, size, speed, schema)
    if claim.rewrites_table:
        return _rewrite(op, claim, size, speed, schema, referenced)
    if claim.builds_index:
        return _index_build(op, size, speed, schema, key_width)
    if claim.scans_table:
        return _scan(size, speed, referenced)
    return Estimate(max(speed.ddl_fixed_s, METADATA_SECONDS), "catalog change only: no scan, no copy")


def _dml(op: Operation, size: TableSize, speed: Throughput, schema: Snapshot) -> Estimate:
    table = schema.table(op.table or "")
    indexes = len(table.indexes) if table is not None else 2
    # Each index takes an entry per changed row; the calibration table had two.
    seconds = speed.update.fixed_s + size.rows / speed.update.rows_per_s * (1 + indexes) / 3
    return Estimate(
        seconds,
        f"at most every row ({size.rows:,}, {indexes} index(es)) changed at "
        f"{_rate(speed.update.rows_per_s)} rows/s (fewer if its WHERE matches fewer)",
    )


def _rewrite(
    op: Operation, claim: LockImpact, size: TableSize, speed: Throughput, schema: Snapshot, referenced: TableSize | None
) -> Estimate:
    rate = speed.rebuild if claim.algorithm == "INPLACE" else speed.rewrite
    copy = rate.seconds(size.rows, size.table_bytes)
    basis = f"{'rebuild' if claim.algorithm == 'INPLACE' else 'copy'} of {size.rows:,} rows " + (
        f"({_mb(size.table_bytes)} at {_mb(rate.bytes_per_s)}/s)"
        if rate.bytes_per_s
        else f"at {_rate(rate.rows_per_s)} rows/s"
    )
    table = schema.table(op.table or "")
    indexes = [i for i in table.indexes.values() if not i.primary] if table is not None else []
    rebuild = sum(
        _index_rows_seconds(
            size.rows, speed, _family(schema, op.table, i.columns), _default_width(schema, op.table, list(i.columns))
        )
        for i in indexes
    )
    if indexes:
        basis += f", then {len(indexes)} secondary index(es) rebuilt"
    if referenced is not None:  # MySQL COPY that adds a foreign key looks every row up in the parent
        rebuild += size.rows / speed.join.rows_per_s
        basis += ", each row checked against the referenced table"
        if (
            table is not None
            and schema.naming.foreign_key_index
            and not table.has_index_leading_with(tuple(op.columns))
        ):
            rebuild += _index_rows_seconds(size.rows, speed, _family(schema, op.table, op.columns), 8.0)
            basis += ", and its index built"
    return Estimate(copy + rebuild, basis, size.table_bytes + size.index_bytes)


def _index_build(
    op: Operation, size: TableSize, speed: Throughput, schema: Snapshot, key_width: float | None
) -> Estimate:
    family = _family(schema, op.table, op.columns)
    rate = speed.index.get(family) or speed.index["integer"]
    width = key_width if key_width is not None else _default_width(schema, op.table, op.columns)
    seconds = rate.fixed_s + _index_rows_seconds(size.rows, speed, family, width)
    basis = f"index build over {size.rows:,} rows at {_rate(rate.rows_per_s)} {family}-key rows/s"
    if _spills(size.rows, width, speed):
        basis += f" (its sort exceeds {_mb(speed.sort_memory_bytes)} and spills to disk)"
    if op.concurrently:
        seconds *= CONCURRENT_FACTOR
        basis += ", plus the second pass of CONCURRENTLY"
    disk = int(size.rows * (width + _INDEX_TUPLE_OVERHEAD) / _FILL)
    return Estimate(seconds, basis, disk)


def _scan(size: TableSize, speed: Throughput, referenced: TableSize | None) -> Estimate:
    if referenced is not None:  # a foreign key is checked with one anti-join of both tables
        rows = size.rows + referenced.rows
        return Estimate(
            speed.join.seconds(rows),
            f"anti-join of {size.rows:,} rows with the {referenced.rows:,} "
            f"referenced rows at {_rate(speed.join.rows_per_s)} rows/s",
        )
    seconds = speed.scan.seconds(size.rows, size.table_bytes)
    basis = (
        f"scan of {_mb(size.table_bytes)} at {_mb(speed.scan.bytes_per_s)}/s"
        if speed.scan.bytes_per_s
        else f"scan of {size.rows:,} rows at {_rate(speed.scan.rows_per_s)} rows/s"
    )
    return Estimate(seconds, basis)


def _index_rows_seconds(rows: int, speed: Throughput, family: str, width: float) -> float:
    """The per-row part of an index build: sorting grows as n log n from the calibration size, and
    slows down when it no longer fits in the server's sort memory (the calibration always fits)."""
    rate: Rate = speed.index.get(family) or speed.index["integer"]
    growth = max(1.0, math.log2(max(rows, 2)) / math.log2(max(speed.rows, 2)))
    spill = EXTERNAL_SORT_FACTOR if _spills(rows, width, speed) else 1.0
    return rows / rate.rows_per_s * growth * spill


def _spills(rows: int, width: float, speed: Throughput) -> bool:
    return bool(speed.sort_memory_bytes) and rows * (width + _SORT_TUPLE_OVERHEAD) > speed.sort_memory_bytes


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
