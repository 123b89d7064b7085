"""golang-migrate format: `N_name.up.sql` and `N_name.down.sql` side by side."""

from __future__ import annotations

from pathlib import Path

from ..model import Migration
from .common import build, file_script, headers, version_and_name


def matches(path: Path, text: str) -> bool:
    return path.name.endswith(".up.sql")


def is_companion(path: Path) -> bool:
    return path.name.endswith(".down.sql")


def read(path: Path, text: str, dialect: str) -> Migration:
    version, name = version_and_name(path.name[: -len(".up.sql")], path)
    up = file_script(text, dialect, path)
    down_path = path.with_name(path.name[: -len(".up.sql")] + ".down.sql")
    down = file_script(down_path.read_text(), dialect, down_path) if down_path.exists() else None
    return build(
        path,
        "golang-migrate",
        version,
        name,
        up,
        down,
        dialect,
        headers(text),
        down_path=down_path if down_path.exists() else None,
    )
