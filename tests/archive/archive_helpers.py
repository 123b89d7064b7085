"""Helpers for the archive-before-destroy tests: a project per database, migrations, the real tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migration_manager import service
from migration_manager.engines import open_engine


def make_project(root: Path, url: str, **settings: Any) -> Path:
    (root / ".claude").mkdir(parents=True, exist_ok=True)
    config = {"environments": {"dev": {"url": url}}, "autoBackup": False, **settings}
    (root / ".claude" / "settings.json").write_text(json.dumps({"skills": {"migration-manager": config}}))
    (root / "migrations").mkdir(exist_ok=True)
    return root


def url_of(project: Path) -> str:
    config = json.loads((project / ".claude" / "settings.json").read_text())
    return config["skills"]["migration-manager"]["environments"]["dev"]["url"]


def dialect(project: Path) -> str:
    url = url_of(project)
    return "sqlite" if url.startswith("sqlite") else "postgres" if url.startswith("postgres") else "mysql"


def write(project: Path, version: str, name: str, up: str | list[str], down: str | list[str] | None) -> Path:
    def body(sql: str | list[str]) -> str:
        return "".join(f"{s};\n" for s in ([sql] if isinstance(sql, str) else sql))

    text = f"-- UP\n{body(up)}" + (f"-- DOWN\n{body(down)}" if down is not None else "")
    path = project / "migrations" / f"{version}_{name}.sql"
    path.write_text(text)
    return path


def apply(project: Path, **fields: Any) -> service.RunReport:
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True, **fields))
    assert report.outcome in ("done", "nothing-to-do"), f"{report.message} {report.error}"
    return report


def rollback(project: Path, **fields: Any) -> service.RunReport:
    report = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True, **fields))
    assert report.outcome in ("done", "nothing-to-do"), f"{report.message} {report.error}"
    return report


def query(project: Path, sql: str) -> list[tuple]:
    engine = open_engine(url_of(project))
    try:
        return [tuple(r) for r in engine.query(sql)]
    finally:
        engine.close()


def execute(project: Path, *statements: str) -> None:
    engine = open_engine(url_of(project))
    try:
        for sql in statements:
            engine.execute(sql)
    finally:
        engine.close()


def rows(project: Path, table: str, order: str = "id") -> list[tuple]:
    """Every row of `table`, all columns in table order, sorted."""
    return query(project, f"SELECT * FROM {table} ORDER BY {order}")


def tables(project: Path) -> set[str]:
    engine = open_engine(url_of(project))
    try:
        return {t.lower() for t in engine.tables()}
    finally:
        engine.close()


def archive_tables(project: Path) -> set[str]:
    return {t for t in tables(project) if t.startswith("_mm_archive_")}


def events(project: Path, *actions: str) -> list[dict]:
    """Archive events of the log, oldest first, with the detail parsed."""
    found = query(project, "SELECT action, version, statements_done, detail FROM schema_migrations_log "
                           "WHERE action LIKE 'archive%' ORDER BY id")
    return [{**json.loads(d.split("\n", 1)[1]), "summary": d.split("\n", 1)[0], "action": a, "version": v, "statement": s} for a, v, s, d in found
            if not actions or a in actions]
