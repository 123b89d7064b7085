"""How the impact report turns a lock claim, a table size and a measured throughput into a
duration, an overall impact and advice (pure: fixed numbers in, no database)."""

from __future__ import annotations

import pytest

from migration_manager.analysis.impact.advice import level, recommendations
from migration_manager.analysis.impact.estimate import estimate
from migration_manager.analysis.locks import LockImpact
from migration_manager.analysis.model import Operation
from migration_manager.analysis.schema import Column, ColumnType, Index, Naming, Snapshot, Table
from migration_manager.analysis.stats import Activity, TableSize, Throughput

SPEED = Throughput(rows=50_000, scan_rows_per_s=1e6, scan_bytes_per_s=100e6, rewrite_rows_per_s=2e5,
                   rewrite_bytes_per_s=50e6, index_rows_per_s={"integer": 1e6, "string": 2.5e5},
                   update_rows_per_s=5e4, join_rows_per_s=1e6, measured_ms=300)
SIZE = TableSize(table="t", rows=1_000_000, rows_source="test", table_bytes=100_000_000, index_bytes=20_000_000)


def _schema() -> Snapshot:
    table = Table("t", columns={"id": Column("id", ColumnType.parse("int", "postgres")),
                                "s": Column("s", ColumnType.parse("text", "postgres"))},
                  indexes={"t_pkey": Index("t_pkey", "t", ("id",), True, True)})
    return Snapshot("postgres", Naming("schema", "table"), tables={"t": table})


def _claim(**facts) -> LockImpact:
    return LockImpact(**{"lock": "ACCESS EXCLUSIVE", "blocks_reads": True, "blocks_writes": True, **facts})


def test_rewrite_takes_the_copy_at_the_measured_rate_plus_the_index_rebuilds():
    op = Operation(kind="alter_column_type", table="t", column="id", new_type="bigint")
    found = estimate(op, _claim(rewrites_table=True), SIZE, SPEED, _schema(), None)
    index = 1_000_000 / 1e6 * (19.93 / 15.61)  # n log n growth from the 50k-row calibration
    assert found.seconds == pytest.approx(100e6 / 50e6 + index, rel=0.01)
    assert found.extra_disk_bytes == SIZE.table_bytes + SIZE.index_bytes


def test_index_build_uses_the_key_family_rate_and_the_key_width():
    op = Operation(kind="create_index", table="t", columns=["s"], index_name="t_s")
    found = estimate(op, _claim(lock="SHARE", blocks_reads=False, builds_index=True), SIZE, SPEED, _schema(), 20.0)
    assert found.seconds == pytest.approx(1_000_000 / 2.5e5 * (19.93 / 15.61), rel=0.01)
    assert found.extra_disk_bytes == int(1_000_000 * (20 + 16) / 0.9)
    concurrent = estimate(op.model_copy(update={"concurrently": True}), _claim(builds_index=True), SIZE, SPEED,
                          _schema(), 20.0)
    assert concurrent.seconds == pytest.approx(2 * found.seconds)


def test_foreign_key_check_is_an_anti_join_of_both_tables():
    op = Operation(kind="add_constraint", table="t", constraint_type="foreign_key", ref_table="p", columns=["id"])
    parent = TableSize(table="p", rows=1000, rows_source="test", table_bytes=40_000, index_bytes=0)
    found = estimate(op, _claim(scans_table=True), SIZE, SPEED, _schema(), None, referenced=parent)
    assert found.seconds == pytest.approx((1_000_000 + 1000) / 1e6)


def test_an_empty_or_new_table_costs_nothing():
    op = Operation(kind="alter_column_type", table="t", column="id", new_type="bigint")
    assert estimate(op, _claim(rewrites_table=True), None, SPEED, _schema(), None).seconds < 0.01


@pytest.mark.parametrize("claim, blocked, work, expected", [
    (_claim(rewrites_table=True), 20.0, 20.0, "high"),
    (_claim(rewrites_table=True), 2.0, 2.0, "medium"),
    (_claim(rewrites_table=True), 0.2, 0.2, "low"),
    (_claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False, builds_index=True), 0, 900, "medium"),
    (_claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False, builds_index=True), 0, 30, "low"),
    (_claim(known=False), 0.001, 0.001, "high"),
])
def test_impact_level_follows_how_long_traffic_waits(claim, blocked, work, expected):
    assert level(claim, blocked, work, SIZE, None) == expected


def test_a_brief_exclusive_lock_behind_a_long_transaction_is_medium_and_says_why():
    busy = Activity(active_sessions=3, open_transactions=2, oldest_transaction_s=120.0, average_tps=10.0,
                    current_tps=50.0, source="test statistics")
    claim = _claim(safer="Run it with a short lock_timeout (and retry).")
    assert level(claim, 0.001, 0.001, SIZE, busy) == "medium"
    advice = recommendations(claim, "medium", 0, busy, "Sat 02:00-04:00")
    assert any("lock timeout" in a for a in advice)
    assert any("maintenance window (Sat 02:00-04:00)" in a for a in advice)
    assert any("busier now (50.0/s) than its average (10.0/s" in a for a in advice)
    assert any("oldest for 120 s" in a for a in advice)


def test_low_impact_gives_no_timing_advice():
    quiet = Activity(active_sessions=0, open_transactions=0, average_tps=10.0, current_tps=1.0)
    advice = recommendations(_claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False,
                                    builds_index=True), "low", 0, quiet, "Sat 02:00-04:00")
    assert advice == []
