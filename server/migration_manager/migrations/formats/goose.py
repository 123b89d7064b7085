"""goose format: `-- +goose Up` / `-- +goose Down`, StatementBegin/End blocks, NO TRANSACTION."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration, Script
from ..sqltext import split
from .common import build, headers, runnable_script, version_and_name

ANNOTATION = re.compile(r"^\s*--\s*\+goose\s+(?P<what>.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def matches(path: Path, text: str) -> bool:
    return path.suffix == ".sql" and bool(ANNOTATION.search(text))


def read(path: Path, text: str, dialect: str) -> Migration:
    version, name = version_and_name(path.stem, path)
    no_tx = bool(re.search(r"^\s*--\s*\+goose\s+NO\s+TRANSACTION", text, re.IGNORECASE | re.MULTILINE))
    sections = _sections(text)
    if "up" not in sections:
        raise MigrationFileError(f"{path.name}: no '-- +goose Up' section.", next_step="Add one.")
    up = _script(sections["up"], dialect, no_tx, path)
    down = _script(sections["down"], dialect, no_tx, path) if "down" in sections else None
    return build(path, "goose", version, name, up, down, dialect, headers(text))


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    marks = [m for m in ANNOTATION.finditer(text) if m["what"].lower() in ("up", "down")]
    for mark, following in zip(marks, marks[1:] + [None]):
        sections[mark["what"].lower()] = text[mark.end() : following.start() if following else len(text)]
    return sections


def _script(body: str, dialect: str, no_tx: bool, path: Path) -> Script:
    """Statements between StatementBegin and StatementEnd are kept whole, as goose does."""
    statements: list[str] = []
    for index, chunk in enumerate(
        re.split(r"^\s*--\s*\+goose\s+Statement(?:Begin|End)\s*$", body, flags=re.IGNORECASE | re.MULTILINE)
    ):
        if index % 2 == 1:
            if chunk.strip():
                statements.append(chunk.strip().rstrip(";").strip())
        else:
            statements.extend(split(chunk, dialect))
    return runnable_script(statements, body, dialect, no_transaction=no_tx, path=path)
