"""Native format (what `db-migrate create --sql` writes): `-- UP` and `-- DOWN` sections.

-- author: alice
-- UP
BEGIN;
ALTER TABLE users ADD COLUMN phone text;
COMMIT;
-- DOWN
BEGIN;
ALTER TABLE users DROP COLUMN phone;
COMMIT;
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import MigrationFileError
from ..model import Migration
from .common import build, headers, sql_script, version_and_name

MARKER = re.compile(r"^\s*--\s*(UP|DOWN)\s*$", re.IGNORECASE | re.MULTILINE)


def matches(path: Path, text: str) -> bool:
    return path.suffix == ".sql" and bool(MARKER.search(text))


def read(path: Path, text: str, dialect: str) -> Migration:
    version, name = version_and_name(path.stem, path)
    sections: dict[str, str] = {}
    marks = list(MARKER.finditer(text))
    for mark, following in zip(marks, marks[1:] + [None]):
        key = mark.group(1).upper()
        if key in sections:
            raise MigrationFileError(f"{path.name}: more than one '-- {key}' section.", next_step="Keep one of each.")
        sections[key] = text[mark.end() : following.start() if following else len(text)]
    if "UP" not in sections:
        raise MigrationFileError(f"{path.name}: no '-- UP' section.", next_step="Put the forward SQL after '-- UP'.")
    meta = headers(text[: marks[0].start()])
    no_tx = meta.get("no-transaction") == "true"
    up = sql_script(sections["UP"], dialect, no_transaction=no_tx, path=path)
    down = sql_script(sections["DOWN"], dialect, no_transaction=no_tx, path=path) if "DOWN" in sections else None
    return build(path, "native", version, name, up, down, dialect, meta)
