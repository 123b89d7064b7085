"""Helpers for the archive-before-destroy tests: a project per database, migrations, the real tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dbcheck
from dbcheck import apply_ok as apply  # noqa: F401 - the archive tests' names
from dbcheck import project_execute as execute  # noqa: F401 -- re-exported for the tests that import it from here
from dbcheck import project_query as query
from dbcheck import rollback_ok as rollback  # noqa: F401 -- re-exported for the tests that import it from here
from dbcheck import settings_url as url_of
from dbcheck import write_native as write  # noqa: F401 -- re-exported for the tests that import it from here

NO_BACKUP = {"autoBackup": False}


def make_project(root: Path, url: str, **settings: Any) -> Path:
    return dbcheck.make_project(root, url, **{**NO_BACKUP, **settings})


def dialect(project: Path) -> str:
    return dbcheck.kind(url_of(project))


def rows(project: Path, table: str, order: str = "id") -> list[tuple]:
    """Every row of `table`, all columns in table order, sorted."""
    return query(project, f"SELECT * FROM {table} ORDER BY {order}")


def tables(project: Path) -> set[str]:
    return {t.lower() for t in dbcheck.project_tables(project)}


def archive_tables(project: Path) -> set[str]:
    return {t for t in tables(project) if t.startswith("_mm_archive_")}


def events(project: Path, *actions: str) -> list[dict]:
    """Archive events of the log, oldest first, with the detail parsed."""
    found = query(
        project,
        "SELECT action, version, statements_done, detail FROM schema_migrations_log "
        "WHERE action LIKE 'archive%' ORDER BY id",
    )
    return [
        {**json.loads(d.split("\n", 1)[1]), "summary": d.split("\n", 1)[0], "action": a, "version": v, "statement": s}
        for a, v, s, d in found
        if not actions or a in actions
    ]
