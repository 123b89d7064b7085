"""dbmate format: `-- migrate:up` / `-- migrate:down`, optional `transaction:false`."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration
from .common import build, headers, sql_script, version_and_name

MARKER = re.compile(r"^\s*--\s*migrate:(up|down)\b(?P<options>[^\n]*)$", re.IGNORECASE | re.MULTILINE)


def matches(path: Path, text: str) -> bool:
    return path.suffix == ".sql" and bool(MARKER.search(text))


def read(path: Path, text: str, dialect: str) -> Migration:
    version, name = version_and_name(path.stem, path)
    sections: dict[str, tuple[str, bool]] = {}
    marks = list(MARKER.finditer(text))
    for mark, following in zip(marks, marks[1:] + [None]):
        body = text[mark.end() : following.start() if following else len(text)]
        no_tx = "transaction:false" in mark["options"].replace(" ", "").lower()
        sections[mark.group(1).lower()] = (body, no_tx)
    if "up" not in sections:
        raise MigrationFileError(f"{path.name}: no '-- migrate:up' section.", next_step="Add one.")
    up_sql, up_no_tx = sections["up"]
    up = sql_script(up_sql, dialect, no_transaction=up_no_tx, path=path)
    down = None
    if "down" in sections:
        down = sql_script(sections["down"][0], dialect, no_transaction=sections["down"][1], path=path)
    return build(path, "dbmate", version, name, up, down, dialect, headers(text))
