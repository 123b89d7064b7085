"""Backups and restores, one module per database (dialects/<db>/backup.py).

Each module offers the same three functions, chosen by the engine's dialect:
* `size(engine)`: bytes the database holds (to check the backup disk first);
* `backup(engine, folder, tables)`: write a dump into `folder` (whole database, or only `tables`)
  and return a `Dump` saying which file, tool, command and format;
* `dump_command(engine, folder, tables)` (PostgreSQL, MariaDB/MySQL: a client tool does the dump): the
  `DumpCommand` that `backup` runs, so that apply can start it beside its checks (backup/tools.StartedDump).
  SQLite has none: its online backup API works through the engine's own connection, so it stays synchronous;
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


class DumpCommand(NamedTuple):
    argv: list[str]  # argv[0] is the tool's full path
    env: dict[str, str]  # the password, never on the command line
    what: str  # "back up the database with pg_dump": the failure's message says "Could not <what>: ..."
    file: str
    format: str


def module_for(dialect: str):
    return dialect_part(dialect, "backup")
