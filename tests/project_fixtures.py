"""Project fixtures shared by the archive and rollback tests (imported by their conftest.py files):
a project folder whose environment `dev` is a throwaway database, with `project_settings` in its config."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbcheck import make_project


@pytest.fixture
def project_settings() -> dict:
    """Extra skill settings for the project (a conftest overrides it)."""
    return {}


@pytest.fixture
def project(tmp_path: Path, any_url: str, project_settings: dict) -> Path:
    """A project whose environment 'dev' is a throwaway database on SQLite, PostgreSQL or MariaDB."""
    return make_project(tmp_path / "proj", any_url, **project_settings)


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str, project_settings: dict) -> Path:
    return make_project(tmp_path / "proj", pg_url, **project_settings)


@pytest.fixture
def mysql_project(tmp_path: Path, mysql_url: str, project_settings: dict) -> Path:
    return make_project(tmp_path / "proj", mysql_url, **project_settings)


@pytest.fixture
def sqlite_project(tmp_path: Path, sqlite_url: str, project_settings: dict) -> Path:
    return make_project(tmp_path / "proj", sqlite_url, **project_settings)
