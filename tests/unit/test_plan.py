"""Disk against history: applied, pending, edited, missing, out-of-order (conflicting heads), dirty."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from migration_manager.errors import HistoryConflict
from migration_manager.history import HistoryRow
from migration_manager.migrations.formats import read_directory
from migration_manager.migrations.plan import make_plan


def migrations(tmp_path: Path, *versions: str):
    for version in versions:
        (tmp_path / f"{version}_m{version}.sql").write_text(f"-- UP\nCREATE TABLE t{version} (a int);\n")
    return read_directory(tmp_path, "sqlite")


def row(migration, **changes) -> HistoryRow:
    return HistoryRow(
        version=migration.version,
        name=migration.name,
        checksum=migration.checksum,
        applied_at=datetime(2026, 1, 1, tzinfo=UTC),
    ).model_copy(update=changes)


def test_applied_and_pending(tmp_path: Path) -> None:
    one, two, three = migrations(tmp_path, "1", "2", "3")
    plan = make_plan([one, two, three], {"1": row(one), "2": row(two)})
    assert [r.version for r in plan.applied] == ["1", "2"]
    assert [m.version for m in plan.pending] == ["3"]
    assert plan.current_version == "2" and plan.file_for("2") is two
    plan.refuse_conflicts()


def test_edited_applied_file_is_refused(tmp_path: Path) -> None:
    (one,) = migrations(tmp_path, "1")
    plan = make_plan([one], {"1": row(one, checksum="v1:something-else")})
    assert [m.version for m, _ in plan.edited] == ["1"]
    with pytest.raises(HistoryConflict, match="changed on disk"):
        plan.refuse_conflicts()


def test_applied_but_missing_on_disk_is_refused(tmp_path: Path) -> None:
    one, two = migrations(tmp_path, "1", "2")
    plan = make_plan([one], {"1": row(one), "2": row(two)})
    assert [r.version for r in plan.missing] == ["2"]
    with pytest.raises(HistoryConflict, match="missing on disk: 2_m2"):
        plan.refuse_conflicts()


def test_older_pending_is_a_conflicting_head(tmp_path: Path) -> None:
    one, two, three = migrations(tmp_path, "1", "2", "3")
    plan = make_plan([one, two, three], {"1": row(one), "3": row(three)})
    assert [m.version for m in plan.out_of_order] == ["2"]
    with pytest.raises(HistoryConflict, match="older than the current version 3"):
        plan.refuse_conflicts()
    plan.refuse_conflicts(allow_out_of_order=True)


def test_dirty_rows_are_neither_applied_nor_missing(tmp_path: Path) -> None:
    one, two = migrations(tmp_path, "1", "2")
    plan = make_plan([one], {"1": row(one), "2": row(two, status="failed", statements_done=1, statements_total=3)})
    assert [r.version for r in plan.dirty] == ["2"] and not plan.missing
    assert plan.current_version == "1"


def test_versions_match_numerically(tmp_path: Path) -> None:
    (tmp_path / "V1_2__x.sql").write_text("CREATE TABLE x (a int);\n")
    (found,) = read_directory(tmp_path, "sqlite")
    plan = make_plan([found], {"1.2": row(found, version="1.2")})
    assert plan.file_for("01.02") is found and not plan.pending
