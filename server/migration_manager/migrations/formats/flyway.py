"""Flyway format: `V1__name.sql` (versioned) with an optional `U1__name.sql` (undo)."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration
from .common import build, file_script, headers

NAME = re.compile(r"^(?P<kind>[VUR])(?P<version>[\d._]*)__(?P<name>.+)\.sql$")


def matches(path: Path, text: str) -> bool:
    found = NAME.match(path.name)
    return bool(found and found["kind"] in "VR")


def is_companion(path: Path) -> bool:
    found = NAME.match(path.name)
    return bool(found and found["kind"] == "U")


def read(path: Path, text: str, dialect: str) -> Migration:
    found = NAME.match(path.name)
    assert found is not None
    if found["kind"] == "R":
        raise MigrationFileError(
            f"{path.name}: Flyway repeatable migrations (R__) are not supported.",
            next_step="Turn it into a versioned migration (V<n>__name.sql).",
        )
    version = found["version"].replace("_", ".")
    up = file_script(text, dialect, path)
    undo = next(path.parent.glob(f"U{found['version']}__*.sql"), None)
    down = file_script(undo.read_text(), dialect, undo) if undo else None
    return build(path, "flyway", version, found["name"], up, down, dialect, headers(text), down_path=undo)
