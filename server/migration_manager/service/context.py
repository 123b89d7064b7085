"""Resolving a request into a project, a target database, its engine, history and migrations."""

from __future__ import annotations

import getpass
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from .. import dialects
from ..config import Settings, Target, load_settings, resolve_target
from ..dialects import Engine, open_engine
from ..errors import MigrationFileError
from ..history import History
from ..migrations.formats import is_companion, read_directory, read_file, version_key
from ..migrations.model import Migration
from ..requests import TargetRequest
from ..urls import parse_url

NO_DATABASE_YET = "sqlite:///:memory:"  # what a read-only command reads where a SQLite file is still missing


class ProgressEvent(BaseModel):
    phase: str  # check | backup | migration | statement | done
    message: str
    migration_index: int = 0
    migration_total: int = 0
    statement_index: int = 0
    statement_total: int = 0


Progress = Callable[[ProgressEvent], None]


def check_steps(progress: Progress | None, names: list[str]) -> Callable[[], None]:
    """Each call reports the next check as started (phase "check": a file of 400k statements takes seconds per
    check, and validate or a run would otherwise look stuck before anything runs)."""
    started = iter(enumerate(names, start=1))

    def step() -> None:
        index, name = next(started)
        if progress:
            progress(ProgressEvent(phase="check", message=name, migration_index=index, migration_total=len(names)))

    return step


@dataclass
class Project:
    dir: Path
    settings: Settings
    target: Target
    migrations_dir: Path
    dialect: str

    def read_migrations(self) -> list[Migration]:
        return read_directory(self.migrations_dir, self.dialect)

    def read_each(self) -> tuple[list[Migration], list[MigrationFileError]]:
        """Every readable migration, and one error per unreadable file (for validate)."""
        found, errors = [], []
        if self.migrations_dir.is_dir():
            for path in sorted(self.migrations_dir.iterdir(), key=lambda p: p.name):
                if path.is_file() and path.suffix in (".sql", ".py") and not is_companion(path):
                    try:
                        found.append(read_file(path, self.dialect))
                    except MigrationFileError as exc:
                        errors.append(exc)
        return sorted(found, key=lambda m: version_key(m.version)), errors  # 2_ before 10_, as apply runs them

    def author(self) -> str:
        return self.settings.author or os.environ.get("MM_AUTHOR") or _git_user(self.dir) or getpass.getuser()


def open_project(request: TargetRequest) -> Project:
    project_dir = request.project_dir.resolve()
    settings = load_settings(project_dir)
    target = resolve_target(settings, project_dir, request.env, request.url)
    migrations_dir = request.migrations_dir or Path(settings.migrationsDir)
    if not migrations_dir.is_absolute():
        migrations_dir = project_dir / migrations_dir
    if request.lock_wait_seconds is not None:
        settings.lockWaitSeconds = request.lock_wait_seconds
    kind = parse_url(target.url).kind
    dialect = kind if kind in dialects.SUPPORTED else dialects.PLAIN
    return Project(project_dir, settings, target, migrations_dir, dialect)


@dataclass
class Connection:
    project: Project
    engine: Engine
    history: History
    lock_wait_ms: int = 0  # how long this run waited for another run's migration lock
    # Live archives of destroyed data per version (service/archive.py): read once per command, read
    # again only after the command wrote an archive event.
    live_archives: dict[str, list] | None = field(default=None, repr=False)

    @property
    def lock_name(self) -> str:
        return f"migration-manager:{self.project.settings.historyTable}"


@contextmanager
def connect(project: Project, *, lock: bool) -> Iterator[Connection]:
    """Open the target database; with lock=True hold the migration lock for the whole block.

    lock=False is a command that only reads: it never creates a SQLite file that is not there."""
    engine = open_engine(project.target.url if lock or _file_exists(project.target.url) else NO_DATABASE_YET)
    conn = Connection(project, engine, History(engine, project.settings.historyTable))
    try:
        if lock:
            started = time.monotonic()
            engine.acquire_lock(conn.lock_name, project.settings.lockWaitSeconds)
            conn.lock_wait_ms = int((time.monotonic() - started) * 1000)
        yield conn
    finally:
        engine.close()


def _file_exists(url: str) -> bool:
    """False only for a database file (SQLite) that does not exist (yet): it reads as an empty database."""
    parsed = parse_url(url)
    # None for a kind without a dialect (MongoDB): open_engine says so
    caps = dialects.get(parsed.kind) if parsed.kind in dialects.SUPPORTED else None
    return not (caps and caps.file_database) or parsed.database == ":memory:" or Path(parsed.database).exists()


def _git_user(directory: Path) -> str | None:
    try:
        out = subprocess.run(["git", "config", "user.name"], cwd=directory, capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
