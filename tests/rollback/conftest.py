"""Fixtures for the rollback-safety tests: a project with one environment on each real database."""

from project_fixtures import mysql_project, pg_project, project, project_settings, sqlite_project  # noqa: F401 -- re-exported for the tests that import it from here
