"""Fixtures for the archive-before-destroy tests: a project on each real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_helpers import make_project


@pytest.fixture
def project(tmp_path: Path, any_url: str) -> Path:
    """A project whose environment 'dev' is a throwaway database on SQLite, PostgreSQL or MariaDB."""
    return make_project(tmp_path / "proj", any_url)


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str) -> Path:
    return make_project(tmp_path / "proj", pg_url)


@pytest.fixture
def mysql_project(tmp_path: Path, mysql_url: str) -> Path:
    return make_project(tmp_path / "proj", mysql_url)


@pytest.fixture
def sqlite_project(tmp_path: Path, sqlite_url: str) -> Path:
    return make_project(tmp_path / "proj", sqlite_url)
