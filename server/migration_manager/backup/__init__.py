"""Backups and restores, one module per database (dialects/<db>/backup.py).

Each module offers the same three functions, chosen by the engine's dialect:
* `size(engine)`: bytes the database holds (to check the backup disk first);
* `backup(engine, folder, tables)`: write a dump into `folder` (whole database, or only `tables`)
  and return a `Dump` saying which file, tool, command and format;
* `restore(engine, path, manifest, into_empty)`: put the dump back. Into the database it came
  from, everything the backup covers is replaced, so the result is exactly the backed-up state
  (objects created after the backup are dropped too); `into_empty` loads into a fresh database.

`TABLE_SCOPE` says whether it can back up single tables; `ATOMIC_RESTORE` whether a restore is one
transaction. When it is not (MariaDB), the service marks the restore in progress (restore_mark.py).
"""

from __future__ import annotations

from typing import NamedTuple

from ..dialects import dialect_part


class Dump(NamedTuple):
    file: str  # name inside the backup folder
    tool: str
    command: str
    format: str


def module_for(dialect: str):
    return dialect_part(dialect, "backup")
