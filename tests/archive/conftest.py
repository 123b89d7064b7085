"""Fixtures for the archive-before-destroy tests: a project on each real database, without pre-migration
backups (the archive, not the backup, must bring the data back)."""

import pytest
from archive_helpers import NO_BACKUP

from project_fixtures import mysql_project, pg_project, project, sqlite_project  # noqa: F401 -- re-exported for the tests that import it from here


@pytest.fixture
def project_settings() -> dict:
    return dict(NO_BACKUP)
