"""What a dirty history row says: the direction (applying / rolling back) and whether the run died or a statement
failed come from the row's status, one explicit set each (history.ROLLBACK_STATUSES, UNFINISHED_STATUSES)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from migration_manager.history import DIRTY_STATUSES, HistoryRow
from migration_manager.service.migrate import dirty_error, in_progress_error


def dirty_row(status: str) -> HistoryRow:
    return HistoryRow(
        version="2",
        name="add_index",
        checksum="x",
        applied_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=status,
        statements_done=1,
        statements_total=3,
        error="boom",
    )


@pytest.mark.parametrize(
    ("status", "doing", "how"),
    [
        ("running", "while applying it", "the run stopped without recording its end"),
        ("failed", "while applying it", "statement 2 failed"),
        ("rolling_back", "while rolling back it", "the run stopped without recording its end"),
        ("rollback_failed", "while rolling back it", "statement 2 failed"),
    ],
)
def test_dirty_error_names_the_direction_and_the_cause(status: str, doing: str, how: str) -> None:
    error = dirty_error(dirty_row(status))
    assert f"Migration 2_add_index is dirty: {how}" in error.message and doing in error.message
    assert "(1 of 3 statements done). Error: boom" in error.message
    # Only a run that died leaves a statement whose end nobody saw.
    assert ("Statement 2 may or may not have completed" in error.state) == (status in ("running", "rolling_back"))
    assert error.next_step.startswith("`db-migrate resolve 2 --retry` re-runs from statement 2")


@pytest.mark.parametrize(("status", "doing"), [("running", "applied"), ("rolling_back", "rolled back")])
def test_in_progress_error_names_the_direction(status: str, doing: str) -> None:
    error = in_progress_error(dirty_row(status), "pid 42")
    assert error.message.startswith(f"Migration 2_add_index is being {doing} right now (1 of 3 statements recorded)")
    assert "held by pid 42" in error.message


def test_every_dirty_status_is_covered() -> None:
    assert DIRTY_STATUSES == {"running", "failed", "rolling_back", "rollback_failed"}
