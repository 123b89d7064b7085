"""MariaDB / MySQL: mariadb-dump (or mysqldump) --single-transaction --routines --triggers; restore
with the mariadb (or mysql) client.

MariaDB commits each DDL statement on its own, so a restore cannot be one transaction: the
objects the backup replaces are dropped first, then the dump is loaded. If loading fails the
error says so, and the backup file is still there to run again.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ...backup import Dump, DumpCommand, restore_mark
from ...backup import point_in_time as pitr
from ...backup.manifest import Manifest
from ...backup.tools import find_tool, run_dump, run_tool
from ...urls import DatabaseURL
from ..base import Engine
from . import DIALECT

quote = DIALECT.quote

INSTALL = "apt install mariadb-client (or mysql-client), brew install mariadb"
DUMP_TOOLS = ["mariadb-dump", "mysqldump"]
CLIENT_TOOLS = ["mariadb", "mysql"]
TABLE_SCOPE = True  # mariadb-dump DB TABLE... backs up only the tables a migration touches
ATOMIC_RESTORE = False  # drops, then the dump statement by statement: a restore in progress is marked (restore_mark)


def size(engine: Engine) -> int:
    found = engine.query(
        "SELECT coalesce(sum(data_length + index_length), 0) FROM information_schema.tables "
        "WHERE table_schema = DATABASE()"
    )
    return int(found[0][0])


def backup(engine: Engine, folder: Path, tables: list[str] | None) -> Dump:
    return run_dump(dump_command(engine, folder, tables), engine.url)


def dump_command(engine: Engine, folder: Path, tables: list[str] | None) -> DumpCommand:
    dump = find_tool(DUMP_TOOLS, purpose="back up MariaDB/MySQL", install=INSTALL)
    name = "dump.sql"
    # --single-transaction: a consistent snapshot of InnoDB tables without locking writers.
    argv = [
        dump,
        *connection_args(engine.url),
        "--single-transaction",
        "--routines",
        "--triggers",
        "--hex-blob",
        "--no-tablespaces",
        "--default-character-set=utf8mb4",
        f"--result-file={folder / name}",
        engine.url.database,
        *(tables or []),
    ]
    return DumpCommand(argv, password_env(engine.url), f"back up the database with {Path(dump).name}", name, "sql")


def restore(engine: Engine, path: Path, manifest: Manifest, *, into_empty: bool) -> None:
    client = find_tool(CLIENT_TOOLS, purpose="restore a MariaDB/MySQL backup", install=INSTALL)
    if not into_empty:
        _drop_replaced(engine, manifest)
    argv = [
        client,
        *connection_args(engine.url),
        "--default-character-set=utf8mb4",
        "--binary-mode",
        f"--database={engine.url.database}",
    ]
    with path.open("rb") as dump:
        run_tool(
            argv,
            engine.url,
            env=password_env(engine.url),
            stdin=dump,
            what=f"restore backup {manifest.id}",
            state="PARTLY RESTORED: the objects the backup replaces were dropped and loading the dump stopped "
            "part-way (MariaDB cannot restore in one transaction). The backup file is intact.",
        )


def connection_args(url: DatabaseURL) -> list[str]:
    # --protocol=TCP: the client tools read 'localhost' as the Unix socket; the engine uses TCP.
    return [
        "--protocol=TCP",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 3306}",
        f"--user={url.user or 'root'}",
    ]


def password_env(url: DatabaseURL) -> dict[str, str]:
    return {"MYSQL_PWD": url.password} if url.password else {}


def _drop_replaced(engine: Engine, manifest: Manifest) -> None:
    """Drop what the dump recreates (and, for a whole backup, whatever was created after it)."""
    if manifest.scope == "tables":
        statements = [f"DROP TABLE IF EXISTS {quote(t)}" for t in manifest.tables]
    else:
        objects = engine.query(
            "SELECT table_type, table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
        statements = [f"DROP VIEW IF EXISTS {quote(n)}" for kind, n in objects if kind == "VIEW"]
        statements += [
            f"DROP TABLE IF EXISTS {quote(n)}" for kind, n in objects if kind != "VIEW" and n != restore_mark.TABLE
        ]
        routines = engine.query(
            "SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = DATABASE()"
        )
        statements += [f"DROP {kind} IF EXISTS {quote(n)}" for kind, n in routines]
    engine.execute("SET FOREIGN_KEY_CHECKS = 0")  # the order of drops must not matter
    try:
        for statement in statements:
            engine.execute(statement)
    finally:
        engine.execute("SET FOREIGN_KEY_CHECKS = 1")


def outside_dependents(engine: Engine, tables: list[str]) -> list[str]:
    """Objects outside `tables` that a table-only restore would break or miss: foreign keys that point
    into them, views over them, triggers on them (which may write elsewhere)."""
    marks = ", ".join(["%s"] * len(tables))
    found = [
        f"foreign key from {name}"
        for (name,) in engine.query(
            "SELECT DISTINCT table_name FROM information_schema.referential_constraints WHERE constraint_schema = "
            f"DATABASE() AND referenced_table_name IN ({marks}) AND table_name NOT IN ({marks})",
            [*tables, *tables],
        )
    ]
    found += [
        f"trigger {name}"
        for (name,) in engine.query(
            "SELECT trigger_name FROM information_schema.triggers WHERE event_object_schema = DATABASE() "
            f"AND event_object_table IN ({marks})",
            tables,
        )
    ]
    views = engine.query(
        "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = DATABASE()"
    )
    found += [f"view {name}" for name, body in views if any(f"`{t}`" in (body or "") for t in tables)]
    return sorted(found)


def point_in_time(engine: Engine, moment: datetime) -> tuple[list[str], str]:
    """Refused, saying how to replay the binary log up to the moment by hand."""
    log_bin = "ON" if engine.query("SELECT @@log_bin")[0][0] else "OFF"
    raise pitr.mysql_refusal(log_bin, engine.server_version())
