"""Helpers for the rollback-safety tests: project folders, migration files, reading the real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbcheck import make_project  # noqa: F401 - the rollback tests' project folders

from migration_manager import service
from migration_manager.engines import open_engine

USERS = ("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, nickname VARCHAR(50))",
         "DROP TABLE users")


def settings_url(project: Path) -> str:
    config = json.loads((project / ".claude" / "settings.json").read_text())
    return config["skills"]["migration-manager"]["environments"]["dev"]["url"]


def write(project: Path, version: str, name: str, up: str | list[str], down: str | list[str] | None) -> Path:
    """A native migration file; several statements given as a list."""
    def body(sql: str | list[str]) -> str:
        return "".join(f"{s};\n" for s in ([sql] if isinstance(sql, str) else sql))

    text = f"-- UP\n{body(up)}" + (f"-- DOWN\n{body(down)}" if down is not None else "")
    path = project / "migrations" / f"{version}_{name}.sql"
    path.write_text(text)
    return path


def apply(project: Path, **fields: Any) -> Any:
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True, **fields))
    assert report.outcome in ("done", "nothing-to-do"), report.message
    return report


def query(project: Path, sql: str) -> list[tuple]:
    engine = open_engine(settings_url(project))
    try:
        return [tuple(r) for r in engine.query(sql)]
    finally:
        engine.close()


def execute(project: Path, sql: str) -> None:
    engine = open_engine(settings_url(project))
    try:
        engine.execute(sql)
    finally:
        engine.close()


def dialect(project: Path) -> str:
    url = settings_url(project)
    return "sqlite" if url.startswith("sqlite") else "postgres" if url.startswith("postgres") else "mysql"


def columns(project: Path, table: str) -> list[str]:
    kind = dialect(project)
    if kind == "sqlite":
        return [r[1] for r in query(project, f"PRAGMA table_info({table})")]
    schema = "current_schema()" if kind == "postgres" else "DATABASE()"
    return [r[0] for r in query(project, "SELECT column_name FROM information_schema.columns WHERE table_name = "
                                         f"'{table}' AND table_schema = {schema} ORDER BY ordinal_position")]


def tables(project: Path) -> set[str]:
    engine = open_engine(settings_url(project))
    try:
        return set(engine.tables())
    finally:
        engine.close()


def copy_exists(project: Path, name: str) -> bool:
    """Is the scratch copy `name` (a database, or a file for SQLite) still there?"""
    kind = dialect(project)
    if kind == "sqlite":
        return Path(name).exists()
    if kind == "postgres":
        return bool(query(project, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))
    return bool(query(project, f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{name}'"))
