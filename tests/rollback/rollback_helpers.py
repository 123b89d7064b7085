"""Helpers for the rollback-safety tests: project folders, migration files, reading the real database."""

from __future__ import annotations

from pathlib import Path

import dbcheck
from dbcheck import apply_ok as apply  # noqa: F401 - the rollback tests' names
from dbcheck import (
    make_project,  # noqa: F401 -- re-exported for the tests that import it from here
    settings_url,
)
from dbcheck import project_execute as execute  # noqa: F401 -- re-exported for the tests that import it from here
from dbcheck import project_query as query
from dbcheck import project_tables as tables  # noqa: F401 -- re-exported for the tests that import it from here
from dbcheck import write_native as write  # noqa: F401 -- re-exported for the tests that import it from here

USERS = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, nickname VARCHAR(50))",
    "DROP TABLE users",
)


def dialect(project: Path) -> str:
    return dbcheck.kind(settings_url(project))


def columns(project: Path, table: str) -> list[str]:
    kind = dialect(project)
    if kind == "sqlite":
        return [r[1] for r in query(project, f"PRAGMA table_info({table})")]
    schema = "current_schema()" if kind == "postgres" else "DATABASE()"
    return [
        r[0]
        for r in query(
            project,
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            f"'{table}' AND table_schema = {schema} ORDER BY ordinal_position",
        )
    ]


def copy_exists(project: Path, name: str) -> bool:
    """Is the scratch copy `name` (a database, or a file for SQLite) still there?"""
    kind = dialect(project)
    if kind == "sqlite":
        return Path(name).exists()
    if kind == "postgres":
        return bool(query(project, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))
    return bool(query(project, f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{name}'"))
