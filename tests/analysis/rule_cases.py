"""The labeled corpus's machinery: one seeded database per test module (analysis only reads it),
and the findings of a migration as comparable tuples."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from migration_manager.analysis.findings import ScriptToCheck, find
from migration_manager.analysis.model import Finding
from migration_manager.engines import open_engine

PG_ADMIN = os.environ.get("MM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("MM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("MM_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def seeded_database(kind: str, seed: list[str], tmp_dir=None) -> Iterator[str]:
    """A throwaway database of `kind` holding `seed`, dropped afterwards."""
    name = f"mm_rules_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_dir}/{name}.db"
    elif kind == "postgres":
        url = _create_pg(name)
    else:
        url = _create_mysql(name)
    engine = open_engine(url)
    try:
        for statement in seed:
            engine.execute(statement)
        engine.close()
        yield url
    finally:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif kind == "mysql":
            _mysql_admin_execute(f"DROP DATABASE IF EXISTS `{name}`")


def _create_pg(name: str) -> str:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def _create_mysql(name: str) -> str:
    try:
        _mysql_admin_execute(f"CREATE DATABASE `{name}`")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "server down"
        _unavailable("MariaDB", exc)
    return f"{MYSQL_ADMIN.rstrip('/')}/{name}"


def _mysql_admin_execute(sql: str) -> None:
    import pymysql

    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True,
                            connect_timeout=5)
    with admin.cursor() as cur:
        cur.execute(sql)
    admin.close()


def analyze(url: str, *migrations: list[str], lock_timeout_ms: int | None = 5000,
            transactional: bool | None = None) -> list[Finding]:
    """The findings for these migrations (each a list of statements) run in order."""
    engine = open_engine(url)
    try:
        in_transaction = engine.caps.transactional_ddl if transactional is None else transactional
        scripts = [ScriptToCheck(str(i), "up", tuple(statements), in_transaction)
                   for i, statements in enumerate(migrations, start=1)]
        return find(engine, scripts, lock_timeout_ms=lock_timeout_ms)
    finally:
        engine.close()


def labels(findings: list[Finding]) -> set[tuple[str, str]]:
    """{(rule, severity)} of the findings above info."""
    return {(f.rule, f.severity) for f in findings if f.severity != "info"}


def one(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, f"expected one {rule} finding, got {findings}"
    return matching[0]
