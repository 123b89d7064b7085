"""Shared fixtures: a throwaway database per test on the real servers.

PostgreSQL (127.0.0.1:5432, postgres, trust) and MariaDB (127.0.0.1:3306, root, no password)
run on every machine. A server that is down skips its tests, unless MM_REQUIRE_SERVICES=1
(CI), where it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN = os.environ.get("MM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("MM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
REQUIRE = os.environ.get("MM_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if REQUIRE:
        pytest.fail(message + " (MM_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def _base(url: str) -> str:
    return url.rsplit("/", 1)[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any connection failure means "server down"
        _unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{_base(PG_ADMIN)}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql_admin():
    import pymysql

    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True, connect_timeout=5)


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MariaDB/MySQL database, dropped afterwards."""
    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = _mysql_admin()
    except Exception as exc:  # noqa: BLE001
        _unavailable("MariaDB", exc)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    admin.close()
    yield f"{MYSQL_ADMIN.rstrip('/')}/{name}"
    admin = _mysql_admin()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


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
