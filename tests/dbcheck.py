"""What the engine and end-to-end tests look at: a database's schema, its rows, and a project on disk.

Deliberately independent of the code under test: raw drivers and the databases' own dump tools.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DB_MIGRATE = str(Path(sys.executable).with_name("db-migrate"))
HISTORY_TABLES = ("schema_migrations", "schema_migrations_log")
MYSQL_USER_PASSWORD = "Pw-s3cret-9f2c"  # the password of the mysql_user_url fixture's user
ARCHIVE_PREFIX = "_mm_archive_"  # the tool's archives of destroyed data (service/archive.py): not the user's schema
PG_ADMIN = os.environ.get("MM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("MM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
REQUIRE = os.environ.get("MM_REQUIRE_SERVICES") == "1"


# ---- throwaway databases --------------------------------------------------------------------
def unavailable(what: str, exc: Exception) -> None:
    """A server that is down skips the test, unless MM_REQUIRE_SERVICES=1 (CI), where it fails it."""
    import pytest

    message = f"{what} is not reachable: {exc}"
    if REQUIRE:
        pytest.fail(message + " (MM_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@contextmanager
def throwaway_database(server: str, prefix: str = "mm_test") -> Iterator[str]:
    """The URL of a fresh, empty database on `server` ("postgres" or "mysql"), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN if server == "postgres" else MYSQL_ADMIN
    quoted = f'"{name}"' if server == "postgres" else f"`{name}`"
    try:
        _admin_execute(server, f"CREATE DATABASE {quoted}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "server down"
        unavailable("PostgreSQL" if server == "postgres" else "MariaDB", exc)
    try:
        yield f"{admin.rstrip('/').rsplit('/', 1)[0] if server == 'postgres' else admin.rstrip('/')}/{name}"
    finally:
        _admin_execute(server, f"DROP DATABASE IF EXISTS {quoted}" + (" WITH (FORCE)" if server == "postgres" else ""))


def _admin_execute(server: str, sql: str) -> None:
    if server == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql)
        return
    import pymysql

    parts = urlsplit(MYSQL_ADMIN)
    admin = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
        connect_timeout=5,
    )
    try:
        with admin.cursor() as cur:
            cur.execute(sql)
    finally:
        admin.close()


def wait_for(found: Callable[[], Any], what: str, timeout: float = 60, poll: float = 0.1) -> Any:
    """Poll until found() is truthy and return it (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"gave up waiting for {what}")


def kind(url: str) -> str:
    return {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}[url.split("://", 1)[0]]


def connect(url: str):
    """A raw autocommit DB-API connection to the test database."""
    parts = urlsplit(url)
    if kind(url) == "postgres":
        import psycopg

        return psycopg.connect(url, autocommit=True)
    if kind(url) == "mysql":
        import pymysql

        return pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            database=parts.path.lstrip("/"),
            autocommit=True,
        )
    return sqlite3.connect(url.split("///", 1)[1], isolation_level=None)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql, params or None) if kind(url) != "sqlite" else cur.execute(sql, params)
        rows = list(cur.fetchall()) if cur.description else []
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def execute(url: str, sql: str) -> None:
    query(url, sql)


def tables(url: str) -> set[str]:
    sql = {
        "postgres": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        "mysql": "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    }[kind(url)]
    return {r[0] for r in query(url, sql)}


def user_tables(url: str) -> set[str]:
    return {t for t in tables(url) - set(HISTORY_TABLES) if not t.lower().startswith(ARCHIVE_PREFIX)}


def history(url: str) -> dict[str, tuple]:
    """version -> (status, statements_done, statements_total, checksum)."""
    rows = query(url, "SELECT version, status, statements_done, statements_total, checksum FROM schema_migrations")
    return {r[0]: tuple(r[1:]) for r in rows}


def events(url: str) -> list[tuple]:
    return query(url, "SELECT version, action, outcome FROM schema_migrations_log ORDER BY id")


def schema_dump(url: str, *, include_history: bool = False) -> str:
    """The schema as the database's own tools print it (pg_dump --schema-only, SHOW CREATE TABLE, sqlite_master)."""
    skip = () if include_history else HISTORY_TABLES
    if kind(url) == "postgres":
        parts = urlsplit(url)
        command = [
            "pg_dump",
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "-h",
            parts.hostname,
            "-p",
            str(parts.port or 5432),
            "-U",
            parts.username or "postgres",
            parts.path.lstrip("/"),
        ]
        for table in skip:
            command += ["-T", table, "-T", f"{table}_id_seq"]
        command += ["-T", f"{ARCHIVE_PREFIX}*"]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        # \restrict / \unrestrict carry a random key per dump (pg_dump 15.14+): not schema.
        return "\n".join(
            line for line in out.splitlines() if not line.startswith(("-- Dumped", "\\restrict", "\\unrestrict"))
        )
    if kind(url) == "mysql":
        names = sorted(t for t in tables(url) if t not in skip and not t.lower().startswith(ARCHIVE_PREFIX))
        views = {
            r[0] for r in query(url, "SELECT table_name FROM information_schema.views WHERE table_schema = DATABASE()")
        }
        dumps = []
        for name in names:
            create = query(url, f"SHOW CREATE {'VIEW' if name in views else 'TABLE'} `{name}`")[0][1]
            dumps.append(re.sub(r" AUTO_INCREMENT=\d+", "", create))
        triggers = query(
            url,
            "SELECT trigger_name, action_statement FROM information_schema.triggers "
            "WHERE trigger_schema = DATABASE() ORDER BY 1",
        )
        return "\n".join(dumps + [f"TRIGGER {n}: {s}" for n, s in triggers])
    rows = query(
        url, "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    )
    return "\n".join(
        f"{t} {n} on {tb}: {s}" for t, n, tb, s in rows if tb not in skip and not tb.lower().startswith(ARCHIVE_PREFIX)
    )


# ---- projects on disk -----------------------------------------------------------------------
def make_project(root: Path, url: str, **settings: Any) -> Path:
    """A project folder whose .claude/settings.json has one environment, `dev` at `url`, and `settings`."""
    (root / ".claude").mkdir(parents=True, exist_ok=True)
    config = {"environments": {"dev": {"url": url}}, **settings}
    (root / ".claude" / "settings.json").write_text(json.dumps({"skills": {"migration-manager": config}}))
    (root / "migrations").mkdir(exist_ok=True)
    return root


def settings_url(project: Path) -> str:
    """The `dev` environment's URL of a project written by make_project."""
    config = json.loads((project / ".claude" / "settings.json").read_text())
    return config["skills"]["migration-manager"]["environments"]["dev"]["url"]


def write_native(project: Path, version: str, name: str, up: str | list[str], down: str | list[str] | None) -> Path:
    """A native migration file; several statements given as a list; no DOWN section when `down` is None."""

    def body(sql: str | list[str]) -> str:
        return "".join(f"{s};\n" for s in ([sql] if isinstance(sql, str) else sql))

    text = f"-- UP\n{body(up)}" + (f"-- DOWN\n{body(down)}" if down is not None else "")
    path = project / "migrations" / f"{version}_{name}.sql"
    path.write_text(text)
    return path


def apply_ok(project: Path, **fields: Any) -> Any:
    """service.apply on `dev`, approved; it must succeed (or find nothing to do)."""
    from migration_manager import service

    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True, **fields))
    assert report.outcome in ("done", "nothing-to-do"), f"{report.message} {report.error}"
    return report


def rollback_ok(project: Path, **fields: Any) -> Any:
    from migration_manager import service

    report = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True, **fields))
    assert report.outcome in ("done", "nothing-to-do"), f"{report.message} {report.error}"
    return report


def project_query(project: Path, sql: str) -> list[tuple]:
    """Rows through the tool's own engine (the types the tool sees)."""
    from migration_manager.dialects import open_engine

    engine = open_engine(settings_url(project))
    try:
        return [tuple(r) for r in engine.query(sql)]
    finally:
        engine.close()


def project_execute(project: Path, *statements: str) -> None:
    from migration_manager.dialects import open_engine

    engine = open_engine(settings_url(project))
    try:
        for sql in statements:
            engine.execute(sql)
    finally:
        engine.close()


def project_tables(project: Path) -> set[str]:
    from migration_manager.dialects import open_engine

    engine = open_engine(settings_url(project))
    try:
        return set(engine.tables())
    finally:
        engine.close()


@dataclass
class Project:
    root: Path
    url: str | None = None

    @property
    def migrations(self) -> Path:
        folder = self.root / "migrations"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def configure(self, settings: dict) -> None:
        """migration-manager.yaml with these settings (replacing the file)."""
        import yaml

        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "migration-manager.yaml").write_text(yaml.safe_dump(settings))

    def write(self, name: str, text: str) -> Path:
        path = self.migrations / name
        path.write_text(text)
        return path

    def native(self, version: str, name: str, up: str, down: str | None = None, header: str = "") -> Path:
        """A migration as `db-migrate create` writes it: BEGIN/COMMIT inside each section."""
        text = f"{header}-- UP\nBEGIN;\n{up}\nCOMMIT;\n"
        if down is not None:
            text += f"\n-- DOWN\nBEGIN;\n{down}\nCOMMIT;\n"
        return self.write(f"{version}_{name}.sql", text)

    def run(
        self,
        *args: str,
        url: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`db-migrate` as a user runs it, in the project folder."""
        target = url or self.url
        command = [DB_MIGRATE, *(["--url", target] if target else []), *args]
        return subprocess.run(
            command,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(env),
            input=stdin if stdin is not None else "",
        )

    def popen(self, *args: str, url: str | None = None) -> subprocess.Popen[str]:
        target = url or self.url
        command = [DB_MIGRATE, *(["--url", target] if target else []), *args]
        return subprocess.Popen(
            command,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(None),
            stdin=subprocess.DEVNULL,
        )


def clean_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The caller's environment without anything that would pick another database behind the test's back."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MM_ENV", "PGPASSWORD", "MM_AUTHOR")}
    env["COLUMNS"] = "200"
    return env | (extra or {})
