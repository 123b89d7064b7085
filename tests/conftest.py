"""Shared fixtures: a throwaway database per test on the real servers.

PostgreSQL (127.0.0.1:5432, postgres, trust) and MariaDB (127.0.0.1:3306, root, no password)
run on every machine. A server that is down skips its tests, unless MM_REQUIRE_SERVICES=1
(CI), where it fails them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbcheck import MYSQL_USER_PASSWORD, _admin_execute, throwaway_database

# The tool's per-user cache (measured server throughput) goes to a folder of this test run, never the
# developer's own; commands the tests start inherit it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="mm-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with throwaway_database("postgres") as url:
        yield url


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MariaDB/MySQL database, dropped afterwards."""
    with throwaway_database("mysql") as url:
        yield url


@pytest.fixture
def mysql_user_url(mysql_url: str) -> Iterator[str]:
    """The throwaway MariaDB database, reached as a user who has a password (MYSQL_USER_PASSWORD)."""
    user, database = f"mm_pw_{uuid.uuid4().hex[:8]}", mysql_url.rsplit("/", 1)[1]
    for host in ("%", "localhost"):
        _admin_execute("mysql", f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{MYSQL_USER_PASSWORD}'")
        _admin_execute("mysql", f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
    try:
        yield f"mysql://{user}:{MYSQL_USER_PASSWORD}@127.0.0.1:3306/{database}"
    finally:
        for host in ("%", "localhost"):
            _admin_execute("mysql", f"DROP USER IF EXISTS '{user}'@'{host}'")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def any_url(request: pytest.FixtureRequest) -> str:
    """The same test on each relational database."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mysql": "mysql_url"}[request.param])


@pytest.fixture
def project(tmp_path: Path):
    """An empty project folder (migrations/ inside) driven through the installed `db-migrate`."""
    from dbcheck import Project

    project = Project(tmp_path / "project")
    # Pre-migration backups have their own tests (tests/backup); here they would only add a dump per apply.
    project.configure({"autoBackup": False})
    return project
