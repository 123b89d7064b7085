"""Read every migration in a folder, whatever format each file is in."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration
from . import dbmate, flyway, golang_migrate, goose, native, python

# Order matters: file-name conventions first, then content markers.
READERS = (python, golang_migrate, flyway, dbmate, goose, native)
COMPANIONS = (golang_migrate, flyway)  # DOWN files read together with their UP file


def read_file(path: Path, dialect: str) -> Migration:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationFileError(
            f"Cannot read {path}: {exc}", next_step="Check the file's permissions and encoding."
        ) from None
    for reader in READERS:
        if reader.matches(path, text):
            return reader.read(path, text, dialect)
    raise MigrationFileError(
        f"{path.name}: cannot tell which migration format this file uses.",
        next_step="Add '-- UP' and '-- DOWN' sections (or '-- migrate:up' / '-- +goose Up'), "
        "or name it like V1__name.sql or 1_name.up.sql.",
    )


def read_directory(directory: Path, dialect: str) -> list[Migration]:
    """All migrations in `directory`, sorted by version. Raises on duplicate versions."""
    if not directory.is_dir():
        return []
    migrations = [
        read_file(path, dialect)
        for path in sorted(directory.iterdir(), key=lambda p: p.name)
        if path.is_file() and path.suffix in (".sql", ".py") and not is_companion(path)
    ]
    _refuse_duplicates(migrations)
    return sorted(migrations, key=lambda m: version_key(m.version))


def is_companion(path: Path) -> bool:
    return any(reader.is_companion(path) for reader in COMPANIONS) or path.name.startswith("__")


def _refuse_duplicates(migrations: list[Migration]) -> None:
    seen: dict[tuple, Migration] = {}
    for migration in migrations:
        key = version_key(migration.version)
        if key in seen:
            raise MigrationFileError(
                f"Two migrations have version {migration.version}: {seen[key].path.name} and {migration.path.name}.",
                state="Nothing was run.",
                next_step="Give one of them a new version (usually the one created on the other branch).",
            )
        seen[key] = migration


@lru_cache(maxsize=65536)
def version_key(version: str) -> tuple:
    """Numeric ordering for 20240116093000, 1.2.10, 001 alike. Cached: planning 10,000 migrations
    compares their versions many times over."""
    parts = version.replace("_", ".").split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts if p != "")
