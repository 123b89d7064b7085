"""Which deployment drives an apply: `--strategy`, else a pending migration's header, else the setting. Without
any header the files are not parsed for it (apply reads them itself)."""

from __future__ import annotations

from pathlib import Path

from dbcheck import make_project, write_native
from migration_manager.service import ApplyRequest
from migration_manager.service.context import Project
from migration_manager.strategies import deployment


def _project(tmp_path: Path, url: str) -> Path:
    project = make_project(tmp_path / "proj", url)
    write_native(project, "1", "people", "CREATE TABLE people (id integer PRIMARY KEY)", None)
    return project


def test_no_header_is_the_plain_apply_without_parsing_the_files(sqlite_url: str, tmp_path: Path, monkeypatch) -> None:
    project = _project(tmp_path, sqlite_url)
    read = []
    monkeypatch.setattr(Project, "read_migrations", lambda self: read.append(1) or [])
    assert deployment.deployment(ApplyRequest(project_dir=project, env="dev")) is None
    assert read == []


def test_a_pending_blue_green_header_chooses_blue_green(sqlite_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, sqlite_url)
    path = write_native(project, "2", "email", "ALTER TABLE people ADD COLUMN email varchar(80)", None)
    path.write_text("-- strategy: blue-green\n" + path.read_text())
    assert deployment.deployment(ApplyRequest(project_dir=project, env="dev")) == "blue-green"


def test_the_word_in_a_comment_is_no_header(sqlite_url: str, tmp_path: Path) -> None:
    project = _project(tmp_path, sqlite_url)
    path = write_native(project, "2", "email", "ALTER TABLE people ADD COLUMN email varchar(80)", None)
    path.write_text("-- our strategy: none here, just a note\n" + path.read_text())
    assert deployment.deployment(ApplyRequest(project_dir=project, env="dev")) is None
