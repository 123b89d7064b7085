"""How the impact report turns a lock claim, a table size and a measured throughput into a
duration, an overall impact and advice (pure: fixed numbers in, no database)."""

from __future__ import annotations

import pytest

from migration_manager.analysis.impact.advice import level, recommendations
from migration_manager.analysis.impact.estimate import estimate
from migration_manager.analysis.locks import LockImpact
from migration_manager.analysis.model import Operation
from migration_manager.analysis.schema import Column, ColumnType, Index, Naming, Snapshot, Table
from migration_manager.analysis.stats import Activity, Rate, TableSize, Throughput, fit

SPEED = Throughput(
    rows=50_000,
    scan=Rate(fixed_s=0.001, rows_per_s=1e6, bytes_per_s=100e6),
    rewrite=Rate(fixed_s=0.01, rows_per_s=2e5, bytes_per_s=50e6),
    rebuild=Rate(fixed_s=0.02, rows_per_s=4e5),
    index={"integer": Rate(fixed_s=0.005, rows_per_s=1e6), "string": Rate(fixed_s=0.005, rows_per_s=2.5e5)},
    update=Rate(fixed_s=0.0, rows_per_s=5e4),
    join=Rate(fixed_s=0.002, rows_per_s=1e6),
    ddl_fixed_s=0.003,
)
SIZE = TableSize(table="t", rows=1_000_000, rows_source="test", table_bytes=100_000_000, index_bytes=20_000_000)


def _schema() -> Snapshot:
    table = Table(
        "t",
        columns={
            "id": Column("id", ColumnType.parse("int", "postgres")),
            "s": Column("s", ColumnType.parse("text", "postgres")),
        },
        indexes={"t_pkey": Index("t_pkey", "t", ("id",), True, True)},
    )
    return Snapshot("postgres", Naming("schema", "table"), tables={"t": table})


def _claim(**facts) -> LockImpact:
    return LockImpact(**{"lock": "ACCESS EXCLUSIVE", "blocks_reads": True, "blocks_writes": True, **facts})


GROWTH = 19.93 / 15.61  # n log n: log2(1M) / log2(50k), the calibration size


def test_fit_separates_the_fixed_cost_from_the_cost_per_row():
    rate = fit((10_000, 1_000_000, 0.03), (50_000, 5_000_000, 0.11))
    assert rate.fixed_s == pytest.approx(0.01) and rate.rows_per_s == pytest.approx(500_000)
    assert rate.bytes_per_s == pytest.approx(50_000_000)
    assert rate.seconds(1_000_000) == pytest.approx(0.01 + 2.0)
    noisy = fit((10_000, 0, 0.05), (50_000, 0, 0.04))  # the bigger table was faster: no fit possible
    assert (noisy.fixed_s, noisy.rows_per_s) == (0.0, 50_000 / 0.04)


def test_rewrite_takes_the_copy_at_the_measured_rate_plus_the_secondary_index_rebuilds():
    op = Operation(kind="alter_column_type", table="t", column="id", new_type="bigint")
    schema = _schema()
    schema.tables["t"].indexes["t_s"] = Index("t_s", "t", ("s",))
    found = estimate(op, _claim(rewrites_table=True), SIZE, SPEED, schema, None)
    assert found.seconds == pytest.approx(0.01 + 100e6 / 50e6 + 1_000_000 / 2.5e5 * GROWTH, rel=0.01)
    assert found.extra_disk_bytes == SIZE.table_bytes + SIZE.index_bytes
    inplace = estimate(op, _claim(rewrites_table=True, algorithm="INPLACE"), SIZE, SPEED, _schema(), None)
    assert inplace.seconds == pytest.approx(0.02 + 1_000_000 / 4e5)


def test_index_build_uses_the_key_family_rate_and_the_key_width():
    op = Operation(kind="create_index", table="t", columns=["s"], index_name="t_s")
    found = estimate(op, _claim(lock="SHARE", blocks_reads=False, builds_index=True), SIZE, SPEED, _schema(), 20.0)
    assert found.seconds == pytest.approx(0.005 + 1_000_000 / 2.5e5 * GROWTH, rel=0.01)
    assert found.extra_disk_bytes == int(1_000_000 * (20 + 16) / 0.9)
    concurrent = estimate(
        op.model_copy(update={"concurrently": True}), _claim(builds_index=True), SIZE, SPEED, _schema(), 20.0
    )
    assert concurrent.seconds == pytest.approx(1.2 * found.seconds)


def test_foreign_key_check_is_an_anti_join_of_both_tables():
    op = Operation(kind="add_constraint", table="t", constraint_type="foreign_key", ref_table="p", columns=["id"])
    parent = TableSize(table="p", rows=1000, rows_source="test", table_bytes=40_000, index_bytes=0)
    found = estimate(op, _claim(scans_table=True), SIZE, SPEED, _schema(), None, referenced=parent)
    assert found.seconds == pytest.approx(0.002 + (1_000_000 + 1000) / 1e6)


def test_an_empty_or_new_table_costs_nothing():
    op = Operation(kind="alter_column_type", table="t", column="id", new_type="bigint")
    assert estimate(op, _claim(rewrites_table=True), None, SPEED, _schema(), None).seconds < 0.01


@pytest.mark.parametrize(
    "claim, blocked, work, expected",
    [
        (_claim(rewrites_table=True), 20.0, 20.0, "high"),
        (_claim(rewrites_table=True), 2.0, 2.0, "medium"),
        (_claim(rewrites_table=True), 0.2, 0.2, "low"),
        (
            _claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False, builds_index=True),
            0,
            900,
            "medium",
        ),
        (
            _claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False, builds_index=True),
            0,
            30,
            "low",
        ),
        (_claim(known=False), 0.001, 0.001, "high"),
    ],
)
def test_impact_level_follows_how_long_traffic_waits(claim, blocked, work, expected):
    assert level(claim, blocked, work, SIZE, None) == expected


def test_a_brief_exclusive_lock_behind_a_long_transaction_is_medium_and_says_why():
    busy = Activity(
        active_sessions=3,
        open_transactions=2,
        oldest_transaction_s=120.0,
        average_tps=10.0,
        current_tps=50.0,
        source="test statistics",
    )
    claim = _claim(safer="Run it with a short lock_timeout (and retry).")
    assert level(claim, 0.001, 0.001, SIZE, busy) == "medium"
    advice = recommendations(claim, "medium", 0, busy, "Sat 02:00-04:00")
    assert any("lock timeout" in a for a in advice)
    assert any("maintenance window (Sat 02:00-04:00)" in a for a in advice)
    assert any("busier now (50.0/s) than its average (10.0/s" in a for a in advice)
    assert any("oldest for 120 s" in a for a in advice)


def test_low_impact_gives_no_timing_advice():
    quiet = Activity(active_sessions=0, open_transactions=0, average_tps=10.0, current_tps=1.0)
    advice = recommendations(
        _claim(lock="SHARE UPDATE EXCLUSIVE", blocks_reads=False, blocks_writes=False, builds_index=True),
        "low",
        0,
        quiet,
        "Sat 02:00-04:00",
    )
    assert advice == []


def test_an_index_whose_sort_outgrows_the_sort_memory_is_slower_per_row():
    op = Operation(kind="create_index", table="t", columns=["s"], index_name="t_s")
    claim = _claim(lock="SHARE", blocks_reads=False, builds_index=True)
    in_memory = estimate(op, claim, SIZE, SPEED.model_copy(update={"sort_memory_bytes": 1 << 30}), _schema(), 33.0)
    spilling = estimate(op, claim, SIZE, SPEED.model_copy(update={"sort_memory_bytes": 64 << 20}), _schema(), 33.0)
    assert spilling.seconds - 0.005 == pytest.approx(2.5 * (in_memory.seconds - 0.005))
    assert "spills to disk" in spilling.basis and "spills" not in in_memory.basis


def test_disk_advice_starts_at_a_megabyte():
    claim = _claim(lock="ACCESS EXCLUSIVE", rewrites_table=True)
    assert not [a for a in recommendations(claim, "low", 300_000, None, None) if "free disk" in a]
    assert "Needs about 120 MB of free disk while it runs." in recommendations(
        claim, "low", 120 * 1_048_576, None, None
    )
