"""Fixtures for the backup tests (helpers live in backup_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_helpers import make_project, seed


@pytest.fixture
def seeded(any_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A seeded database of each kind (tables, FK, index, view, data) and a project pointing at it."""
    seed(any_url)
    return any_url, make_project(tmp_path / "proj", any_url)
