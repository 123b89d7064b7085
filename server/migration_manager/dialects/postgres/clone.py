"""PostgreSQL scratch copies: `CREATE DATABASE ... TEMPLATE` when nobody else is connected
(a file-level copy, the fastest there is), otherwise `pg_dump -Fc | pg_restore` (a consistent
snapshot that does not disturb the sessions using the database). A schema-only copy is always
`pg_dump --schema-only | pg_restore`: a TEMPLATE copy would copy every row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import closing
from urllib.parse import urlsplit, urlunsplit

from ...clone import ScratchCopy, with_database
from ...errors import CopyFailed, MigrationError
from ...urls import DatabaseURL, redact
from .. import Engine, open_engine
from . import DIALECT

quote = DIALECT.quote

MAINTENANCE_DATABASES = ("postgres", "template1")
OBJECT_IN_USE = "55006"  # "source database is being accessed by other users"


def make_copy(source: DatabaseURL, name: str, *, schema_only: bool = False) -> ScratchCopy:
    admin = admin_session(source)
    try:
        method = None if schema_only else _clone_from_template(admin, source.database, name)
        if method is None:
            admin.execute(f"CREATE DATABASE {quote(name)}")
            method = (
                "pg_dump --schema-only | pg_restore (no rows)"
                if schema_only
                else "pg_dump -Fc | pg_restore (other sessions are connected, so no TEMPLATE copy)"
            )
            try:
                _dump_restore(source, name, schema_only)
            except BaseException:
                admin.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
                raise
    except MigrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - privilege or server errors: say what failed, leave nothing behind
        raise CopyFailed(
            f"Could not create the scratch copy {name} of {source.redacted}: {_one_line(exc)}",
            state="The environment's database was not changed; no copy was left behind.",
            next_step="The user needs the CREATEDB privilege (and read access for pg_dump).",
        ) from None
    finally:
        admin.close()
    return ScratchCopy(url=with_database(source, name), name=name, method=method, drop=lambda: drop(source, name))


def admin_session(source: DatabaseURL) -> Engine:
    """A session on a maintenance database: the copy's source must have no session of ours."""
    last: MigrationError | None = None
    for database in MAINTENANCE_DATABASES:
        try:
            return open_engine(with_database(source, database))
        except MigrationError as exc:
            last = exc
    raise last  # type: ignore[misc]


def _clone_from_template(admin: Engine, source: str, name: str) -> str | None:
    others = admin.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [source]
    )[0][0]
    if others:
        return None
    try:
        admin.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(source)}")
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == OBJECT_IN_USE:
            return None
        raise
    return "CREATE DATABASE ... TEMPLATE (file-level copy; no other session was connected)"


def _dump_restore(source: DatabaseURL, name: str, schema_only: bool = False) -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        raise CopyFailed(
            f"{' and '.join(missing)} not found: other sessions are connected to {source.redacted}, so the copy "
            "must be made with pg_dump | pg_restore.",
            state="The environment's database was not changed; no copy was left behind.",
            next_step="Install the PostgreSQL client tools (e.g. apt install postgresql-client), or run the test "
            "while nothing else is connected.",
        )
    env = {**os.environ, "PGPASSWORD": source.password} if source.password else dict(os.environ)
    flags = ["--no-owner", "--no-privileges"]
    # A subscription would connect the copy to a publisher: never part of a copy that only replays statements.
    dump_flags = ["--schema-only", "--no-subscriptions"] if schema_only else []
    with tempfile.TemporaryFile() as dump_errors:
        dump = subprocess.Popen(
            ["pg_dump", "-Fc", *flags, *dump_flags, "-d", _conninfo(source, source.database)],
            stdout=subprocess.PIPE,
            stderr=dump_errors,
            env=env,
        )
        restore = subprocess.run(
            ["pg_restore", *flags, "--exit-on-error", "-d", _conninfo(source, name)],
            stdin=dump.stdout,
            capture_output=True,
            env=env,
        )
        dump.stdout.close()
        dump.wait()
        dump_errors.seek(0)
        errors = dump_errors.read().decode(errors="replace") + restore.stderr.decode(errors="replace")
    if dump.returncode or restore.returncode:
        raise CopyFailed(
            f"pg_dump | pg_restore of {source.redacted} failed: {redact(errors.strip())[-600:]}",
            state="The environment's database was not changed; the partial copy was dropped.",
            next_step="Fix the cause above (privileges, extensions missing on the server) and rerun.",
        )


def _conninfo(source: DatabaseURL, database: str) -> str:
    """The URL for the client tools, without the password (it goes through PGPASSWORD, never argv)."""
    parts = urlsplit(with_database(source, database))
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        netloc[0] = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(scheme="postgresql", netloc="@".join(netloc)))


def drop(source: DatabaseURL, name: str) -> None:
    with closing(admin_session(source)) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")


def database_names(admin: Engine) -> list[str]:
    return [r[0] for r in admin.query("SELECT datname FROM pg_database")]


def fingerprint(engine: Engine, table: str, columns: list[str]) -> str:
    row = ", ".join(quote(c) for c in columns)
    count, total = engine.query(
        f"SELECT count(*), coalesce(sum(hashtextextended(ROW({row})::text, 0)::numeric), 0) FROM {quote(table)}"
    )[0]
    return f"{count}:{total}"


def constraint_problems(engine: Engine) -> list[str]:
    """NOT VALID constraints are validated here (it is only the copy), and invalid indexes are named."""
    problems = []
    pending = engine.query(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE NOT c.convalidated AND n.nspname = current_schema() ORDER BY 1, 2"
    )
    for table, constraint in pending:
        try:
            engine.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote(constraint)}")
        except Exception as exc:  # noqa: BLE001 - the violation itself is the finding
            problems.append(f"constraint {constraint} on {table} does not hold: {_one_line(exc)}")
    invalid = engine.query(
        "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname = current_schema() ORDER BY 1"
    )
    problems += [
        f"index {index} on {table} is INVALID (a failed CREATE INDEX CONCURRENTLY?)" for index, table in invalid
    ]
    return problems


def _one_line(exc: BaseException) -> str:
    return redact(" ".join(str(exc).split()))[:400] or type(exc).__name__
