"""PostgreSQL: pg_dump -Fc (directory format -Fd -j N for large databases), restore via pg_restore.

A restore into the same database runs as ONE transaction (`pg_restore -f - | psql -1`): first
everything the backup replaces is dropped, then the dump is loaded. A failure leaves the database
exactly as it was before the restore, never half-restored.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from ...backup import Dump, DumpCommand
from ...backup import point_in_time as pitr
from ...backup.manifest import Manifest
from ...backup.store import default_jobs
from ...backup.tools import find_tool, pipe_tools, run_dump
from ...urls import DatabaseURL
from ..base import Engine
from . import DIALECT

quote = DIALECT.quote

INSTALL = "apt install postgresql-client, brew install libpq, or the client package matching the server version"
PARALLEL_FROM_BYTES = 1 << 30  # from 1 GiB on, a parallel directory-format dump is much faster
TABLE_SCOPE = True  # pg_dump --table can back up only the tables a migration touches
ATOMIC_RESTORE = True  # one transaction: a killed restore leaves the database as it was
SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"


def size(engine: Engine) -> int:
    return int(engine.query("SELECT pg_database_size(current_database())")[0][0])


def backup(engine: Engine, folder: Path, tables: list[str] | None) -> Dump:
    return run_dump(dump_command(engine, folder, tables), engine.url)


def dump_command(engine: Engine, folder: Path, tables: list[str] | None) -> DumpCommand:
    pg_dump = find_tool(["pg_dump"], purpose="back up PostgreSQL", install=INSTALL)
    parallel = size(engine) >= PARALLEL_FROM_BYTES
    name, layout = ("dump.pgdir", ["-Fd", "-j", str(default_jobs())]) if parallel else ("dump.pgc", ["-Fc"])
    argv = [
        pg_dump,
        *layout,
        "-f",
        str(folder / name),
        *_table_args(engine, tables),
        f"--dbname={conninfo(engine.url)}",
    ]
    return DumpCommand(
        argv,
        password_env(engine.url),
        "back up the database with pg_dump",
        name,
        "directory" if parallel else "custom",
    )


def restore(engine: Engine, path: Path, manifest: Manifest, *, into_empty: bool) -> None:
    pg_restore = find_tool(["pg_restore"], purpose="restore a PostgreSQL backup", install=INSTALL)
    psql = find_tool(["psql"], purpose="restore a PostgreSQL backup", install=INSTALL)
    # Into another database the roles of the original may not exist: load without owners and grants.
    restore_argv = [pg_restore, "-f", "-", *(["--no-owner", "--no-acl"] if into_empty else []), str(path)]
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="mm-restore-") as prefix:
        prefix.write("" if into_empty else _drop_sql(engine, manifest))
        prefix.flush()
        _load(
            restore_argv,
            [
                psql,
                "-X",
                "-q",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                prefix.name,
                "-f",
                "-",
                f"--dbname={conninfo(engine.url)}",
            ],
            engine,
            manifest,
        )


def _load(restore_argv: list[str], psql_argv: list[str], engine: Engine, manifest: Manifest) -> None:
    pipe_tools(
        restore_argv,
        psql_argv,
        engine.url,
        env=password_env(engine.url),
        what=f"restore backup {manifest.id}",
        state="Unchanged: the restore runs in one transaction, which was rolled back.",
    )


def conninfo(url: DatabaseURL) -> str:
    """libpq URL without the password (it goes through PGPASSWORD), keeping sslmode & co."""
    user = f"{_url_encoded(url.user)}@" if url.user else ""
    port = f":{url.port}" if url.port else ""
    params = "&".join(f"{k}={_url_encoded(v)}" for k, v in url.query.items() if k.lower() != "password")
    return f"postgresql://{user}{url.host or 'localhost'}{port}/{_url_encoded(url.database)}" + (
        f"?{params}" if params else ""
    )


def password_env(url: DatabaseURL) -> dict[str, str]:
    password = url.password or url.query.get("password")
    return {"PGPASSWORD": password} if password else {}


def point_in_time(engine: Engine, moment: datetime) -> tuple[list[str], str]:
    """The steps of a restore to `moment` from the archived WAL, and what they need; refused without archiving."""
    settings = server_wal_settings(engine)
    if pitr.archiving_gaps(settings):
        raise pitr.refusal(settings, engine.server_version())
    archiver = settings.get("archive_command") or settings.get("archive_library")
    return pitr.steps(settings, moment, engine.url.port or 5432), (
        f"WAL archiving is on ({archiver}). A point-in-time restore to {moment.isoformat()} replays a base backup "
        "plus the archived WAL into a NEW data directory on the database host, as the postgres OS user; "
        "migration-manager does not run these steps itself (it has no access to the server's files). "
        "Nothing was changed."
    )


def server_wal_settings(engine: Engine) -> dict[str, str]:
    rows = engine.query(
        "SELECT name, setting FROM pg_settings WHERE name IN "
        "('archive_mode', 'archive_command', 'archive_library', 'wal_level', 'data_directory', "
        "'server_version')"
    )
    return {name: setting for name, setting in rows}


def _table_args(engine: Engine, tables: list[str] | None) -> list[str]:
    if tables is None:
        return []
    schema = engine.query("SELECT current_schema()")[0][0]
    # --table takes a pattern; inside its double quotes a quote is doubled, as in an identifier.
    return [f"--table={quote(schema)}.{quote(table)}" for table in tables]


def _drop_sql(engine: Engine, manifest: Manifest) -> str:
    """Everything the backup will recreate is dropped first, so nothing created since survives."""
    if manifest.scope == "tables":
        schema = engine.query("SELECT current_schema()")[0][0]
        return "".join(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(t)} CASCADE;\n" for t in manifest.tables)
    statements = [
        f"DROP SCHEMA {quote(s)} CASCADE;"
        for (s,) in engine.query(
            f"SELECT nspname FROM pg_namespace WHERE nspname NOT IN {SYSTEM_SCHEMAS} AND nspname <> 'public' "
            "AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'"
        )
    ]
    # public itself stays (PostgreSQL creates it with its own owner and grants; pg_dump does not
    # recreate it): only its contents go.
    statements += [
        f"DROP EXTENSION IF EXISTS {quote(e)} CASCADE;"
        for (e,) in engine.query(
            "SELECT e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = 'public'"
        )
    ]
    statements += [f"DROP {kind} IF EXISTS {name} CASCADE;" for kind, name in engine.query(_PUBLIC_OBJECTS)]
    return "\n".join(statements) + "\n"


_NOT_EXTENSION_MEMBER = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
_PUBLIC_OBJECTS = f"""
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition
  AND {_NOT_EXTENSION_MEMBER.format(oid="c.oid")}
UNION ALL
SELECT 'ROUTINE', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND {_NOT_EXTENSION_MEMBER.format(oid="p.oid")}
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'c')
  AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  AND {_NOT_EXTENSION_MEMBER.format(oid="t.oid")}
"""


def _url_encoded(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def index_table(engine: Engine, index: str) -> str | None:
    """The table of an index in the current schema (None if there is none by that name)."""
    rows = engine.query(
        "SELECT tablename FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", [index]
    )
    return rows[0][0] if rows else None


def outside_dependents(engine: Engine, tables: list[str]) -> list[str]:
    """Objects outside `tables` that a table-only restore would break or miss: foreign keys that point
    into them, views over them, triggers on them (which may write elsewhere)."""
    rows = engine.query(_DEPENDENTS, {"tables": tables})  # type: ignore[arg-type] - psycopg takes a mapping
    return sorted({name for (name,) in rows})


_DEPENDENTS = """
WITH touched AS (SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
                 AND c.relname = ANY(%(tables)s))
SELECT 'foreign key from ' || c.conrelid::regclass::text FROM pg_constraint c
WHERE c.contype = 'f' AND c.confrelid IN (SELECT oid FROM touched) AND c.conrelid NOT IN (SELECT oid FROM touched)
UNION SELECT 'view ' || v.oid::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class
WHERE d.refobjid IN (SELECT oid FROM touched) AND v.oid NOT IN (SELECT oid FROM touched)
UNION SELECT 'trigger ' || t.tgname FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM touched) AND NOT t.tgisinternal
UNION SELECT 'partitions of ' || c.relname FROM pg_class c  -- pg_dump --table leaves partitions out
WHERE c.oid IN (SELECT oid FROM touched) AND (c.relispartition OR c.relkind = 'p')
"""
