"""Templates `db-migrate create` writes, and the name part of the file it writes."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

_NAME_MAX_FALLBACK = 255  # bytes per file name on ext4, APFS, NTFS (in UTF-16 units), XFS, btrfs


@dataclass(frozen=True)
class Template:
    suffix: str
    text: str


SQL = Template(
    "sql",
    """\
-- Migration: {name}
-- Created: {created}
-- author: {author}
-- Statements between BEGIN and COMMIT run in one transaction together with the history
-- row (PostgreSQL, SQLite). MySQL/MariaDB commit each DDL statement: progress is recorded
-- per statement. Write "-- no-transaction" above "-- UP" for CREATE INDEX CONCURRENTLY.

-- UP
BEGIN;
  -- Your SQL here
COMMIT;

-- DOWN
BEGIN;
  -- Rollback SQL here
COMMIT;
""",
)

PYTHON = Template(
    "py",
    '''\
"""Migration: {name}. Created {created} by {author}.

ctx.execute(sql, params) / ctx.query(sql, params) run on the migration's connection, inside its
transaction where the database allows it; ctx.param is the placeholder ("?" or "%s").
"""


def up(ctx):
    raise NotImplementedError("write the forward change")


def down(ctx):
    raise NotImplementedError("write the reverse change")
''',
)

TEMPLATES = {"sql": SQL, "python": PYTHON}


def migration_name(requested: str) -> str:
    """The name part of a created file: letters, marks and digits of any script kept (NFC, lower case, as the
    readers find them again), every run of anything else one "_". A path separator or ".." is refused rather
    than flattened: it says the caller meant a path, and the file always goes in the migrations folder."""
    text = unicodedata.normalize("NFC", requested.strip())
    if "/" in text or "\\" in text or ".." in text:
        raise ConfigError(
            f"'{requested}' cannot be used as a migration name: it contains a path separator or '..'.",
            next_step="Give the name only (e.g. add_user_phone): the file is always written in the "
            "migrations folder (--dir chooses another folder).",
        )
    kept = "".join(c if c == "_" or unicodedata.category(c)[0] in "LMN" else "_" for c in text.lower())
    name = unicodedata.normalize("NFC", re.sub("_+", "_", kept).strip("_"))
    if not name:
        raise ConfigError(
            f"'{requested}' cannot be used as a migration name: it has no letter or digit.",
            next_step="Use letters and digits, e.g. add_user_phone.",
        )
    return name


def check_file_name_fits(file_name: str, folder: Path) -> None:
    """Refuse a file name the filesystem would refuse (its per-name limit is in bytes: a non-Latin letter
    takes 2-4 of them in UTF-8), before writing anything."""
    limit = _name_max(folder)
    size = len(os.fsencode(file_name))
    if size > limit:
        name_bytes = len(os.fsencode(file_name.split("_", 1)[1].rsplit(".", 1)[0]))
        allowed = limit - (size - name_bytes)
        raise ConfigError(
            f"The migration name is too long: the file name would be {size} bytes, and this filesystem allows "
            f"{limit} bytes per file name ({folder}). No file was written.",
            next_step=f"Use a shorter name: at most {allowed} bytes in UTF-8 ({allowed} ASCII letters; an accented "
            "or non-Latin letter takes 2 to 4 bytes).",
        )


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows) or the filesystem does not say
        return _NAME_MAX_FALLBACK
