"""PostgreSQL logical replication for blue-green deployments (strategies/blue_green.py).

A copy that keeps receiving its source's writes: a publication of the replicated tables on the source, a
logical replication slot made by its own call (a CREATE SUBSCRIPTION that makes its slot on the same cluster
hangs, per the CREATE SUBSCRIPTION docs), and a subscription on the target that copies the rows first
(copy_data) and then applies every change. Logical replication carries rows only: no DDL, no sequence values
(set at the switch), no table without a primary key or replica identity (its UPDATEs and DELETEs are refused).

The write freeze: `ALTER DATABASE ... SET default_transaction_read_only = on` makes every new session read-only,
sessions already connected get `bound_s` to finish their transactions and are then terminated (a session
keeps the settings it started with). The replication apply workers are not stopped by it: they write into a
read-only database (proven by tests/strategies/test_blue_green.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import closing
from urllib.parse import quote as url_quote

from ...errors import CopyFailed, MigrationError
from ...urls import DatabaseURL, parse_url, redact
from .. import Engine, open_engine
from . import DIALECT
from .clone import admin_session

quote = DIALECT.quote

POLL_S = 0.01
SEQUENCES_REPLICATED = False  # logical replication carries rows, not sequence values: the switch sets them
OBJECT_IN_USE = "55006"  # "source database is being accessed by other users"


class ReplicationFailed(MigrationError):
    kind = "replication_failed"
    exit_code = 9


def replication_off(engine: Engine) -> str | None:
    """Why this server cannot replicate logically, with the fallback, or None when it can."""
    level = engine.query("SHOW wal_level")[0][0]
    if level == "logical":
        return None
    return (
        f"wal_level is '{level}', so logical replication is off: set wal_level = logical (ALTER SYSTEM SET "
        "wal_level = logical, then restart the server). Without it the honest fallback is a copy with blue's writes "
        "frozen from the copy to the switch: CREATE DATABASE ... TEMPLATE when nobody is connected, else pg_dump | "
        'pg_restore (blueGreenWithoutReplication: "freeze-writes" in the environment\'s settings)'
    )


def problems(engine: Engine, exclude: tuple[str, ...]) -> list[str]:
    """What logical replication cannot carry from this database, each with how to handle it."""
    found = [off] if (off := replication_off(engine)) else []
    for table in _tables_without_identity(engine, exclude):
        found.append(
            f"table {table} has no primary key or replica identity: replication could not apply its UPDATEs and "
            f"DELETEs. Add a primary key, or ALTER TABLE {table} REPLICA IDENTITY FULL"
        )
    return found


def _tables_without_identity(engine: Engine, exclude: tuple[str, ...]) -> list[str]:
    rows = engine.query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND c.relreplident IN ('d', 'n') "
        "AND (c.relreplident = 'n' OR NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
        "AND i.indisprimary)) ORDER BY 1"
    )
    return [r[0] for r in rows if r[0] not in exclude]


def tables(engine: Engine, exclude: tuple[str, ...]) -> list[str]:
    """The tables of the current schema that replication carries (the tool's own `_mm_` tables excepted)."""
    rows = engine.query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND NOT c.relispartition ORDER BY 1"
    )
    return [r[0] for r in rows if r[0] not in exclude and not r[0].startswith("_mm_")]


def columns(engine: Engine, table: str) -> list[str]:
    rows = engine.query(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
        [quote(table)],
    )
    return [r[0] for r in rows]


def schema_fingerprint(engine: Engine, exclude: tuple[str, ...]) -> str:
    """Changes when DDL runs on the database: its tables, columns with types, indexes and constraints."""
    row = engine.query(
        "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM ("
        " SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || a.attnotnull AS x"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0"
        " AND NOT a.attisdropped AND NOT (c.relname = ANY(%s))"
        " UNION ALL SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint co"
        " JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname = current_schema()"
        " UNION ALL SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()) s",
        [list(exclude)],
    )
    return row[0][0]


# ---- the green database ----------------------------------------------------------------------
def create_copy(source: DatabaseURL, name: str, data_tables: tuple[str, ...]) -> str:
    """A new database `name` beside `source` with its schema (and the rows of `data_tables`: the history);
    the rows of everything else come from replication. Returns how it was made."""
    with closing(admin_session(source)) as admin:
        admin.execute(f"CREATE DATABASE {quote(name)}")
    try:
        # No publication or subscription of blue's: green gets its own.
        _dump_restore(source, name, ["--schema-only", "--no-publications", "--no-subscriptions"])
        if data_tables:
            _dump_restore(source, name, ["--data-only", *(f"--table={quote(t)}" for t in data_tables)])
    except BaseException:
        drop_database(source, name)
        raise
    return "pg_dump --schema-only | pg_restore, then logical replication (copy_data, then every change)"


def _dump_restore(source: DatabaseURL, name: str, dump_flags: list[str]) -> None:
    env = {**os.environ, "PGPASSWORD": source.password} if source.password else dict(os.environ)
    flags = ["--no-owner", "--no-privileges"]
    dump = subprocess.Popen(
        ["pg_dump", "-Fc", *flags, *dump_flags, "-d", _tool_url(source, source.database)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    restore = subprocess.run(
        ["pg_restore", *flags, "--exit-on-error", "-d", _tool_url(source, name)],
        stdin=dump.stdout,
        capture_output=True,
        env=env,
    )
    dump.stdout.close()
    errors = dump.stderr.read().decode(errors="replace") + restore.stderr.decode(errors="replace")
    dump.wait()
    if dump.returncode or restore.returncode:
        raise CopyFailed(
            f"pg_dump | pg_restore of {source.redacted} into {name} failed: {redact(errors.strip())[-600:]}",
            state="Blue is unchanged; green was dropped.",
            next_step="Fix the cause above (privileges, client tools, extensions) and run again.",
        )


def _tool_url(url: DatabaseURL, database: str) -> str:
    """For the client tools, without the password (it goes through PGPASSWORD, never argv)."""
    user = f"{url_quote(url.user, safe='')}@" if url.user else ""
    return f"postgresql://{user}{url.host or 'localhost'}:{url.port or 5432}/{url_quote(database, safe='')}"


def create_frozen_copy(source: DatabaseURL, name: str) -> str:
    """A full copy of a source nobody writes to (frozen): TEMPLATE when no session is connected, else a dump."""
    with closing(admin_session(source)) as admin:
        try:
            admin.execute(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(source.database)}")
            return "CREATE DATABASE ... TEMPLATE (file-level copy; blue's writes frozen)"
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != OBJECT_IN_USE:
                raise
        admin.execute(f"CREATE DATABASE {quote(name)}")
    try:
        _dump_restore(source, name, ["--no-publications", "--no-subscriptions"])
    except BaseException:
        drop_database(source, name)
        raise
    return "pg_dump | pg_restore (sessions were connected, so no TEMPLATE copy; blue's writes frozen)"


def drop_database(server: DatabaseURL, name: str) -> None:
    with closing(admin_session(server)) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")


def database_exists(server: DatabaseURL, name: str) -> bool:
    with closing(admin_session(server)) as admin:
        return bool(admin.query("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


# ---- replication -------------------------------------------------------------------------------
def make_slot(source_url: str, name: str, columns_of: dict[str, list[str]]) -> None:
    """The publication and slot alone: changes are kept from this moment until a subscription reads them."""
    with closing(open_engine(source_url)) as source:
        _writable(source)
        listed = ", ".join(f"{quote(t)} ({', '.join(map(quote, cols))})" for t, cols in sorted(columns_of.items()))
        source.execute(f"CREATE PUBLICATION {quote(name)}" + (f" FOR TABLE {listed}" if listed else ""))
        source.query("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [name])


def subscribe(source_url: str, target_url: str, name: str, *, copy_data: bool) -> None:
    """Subscribe the target to a slot made by make_slot; copy_data: copy the rows first (else it has them)."""
    with closing(open_engine(target_url)) as target:
        _writable(target)
        target.execute(
            f"CREATE SUBSCRIPTION {quote(name)} CONNECTION {_literal(_conninfo(parse_url(source_url)))} "
            f"PUBLICATION {quote(name)} WITH (create_slot = false, slot_name = {_literal(name)}, "
            f"copy_data = {'true' if copy_data else 'false'})"
        )


def stop(source_url: str, target_url: str, name: str) -> None:
    """Drop the subscription (detached from its slot first, so nothing waits on the same cluster), the slot
    and the publication. Each part may already be gone, the target database too (a clone that failed)."""
    try:
        target = open_engine(target_url)
    except MigrationError:
        target = None  # no database, no subscription: the source's slot and publication are still dropped
    if target is not None:
        try:
            _writable(target)
            if target.query("SELECT 1 FROM pg_subscription WHERE subname = %s", [name]):
                target.execute(f"ALTER SUBSCRIPTION {quote(name)} DISABLE")
                target.execute(f"ALTER SUBSCRIPTION {quote(name)} SET (slot_name = NONE)")
                target.execute(f"DROP SUBSCRIPTION {quote(name)}")
        finally:
            target.close()
    with closing(open_engine(source_url)) as source:
        _writable(source)
        _drop_slot(source, name)
        source.execute(f"DROP PUBLICATION IF EXISTS {quote(name)}")


def _drop_slot(source: Engine, name: str) -> None:
    deadline = time.monotonic() + 10
    while source.query("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [name]) == [(True,)]:
        if time.monotonic() > deadline:  # a walsender still attached: its subscription lives elsewhere
            source.query(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s", [name]
            )
        time.sleep(POLL_S * 5)
    if source.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [name]):
        source.query("SELECT pg_drop_replication_slot(%s)", [name])


def wait_synced(target_url: str, name: str, timeout_s: float) -> None:
    """Until the subscription's initial copy of every table is done."""
    with closing(open_engine(target_url)) as target:
        deadline = time.monotonic() + timeout_s
        while True:
            pending = target.query(
                "SELECT srrelid::regclass::text FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid "
                "WHERE s.subname = %s AND r.srsubstate NOT IN ('r', 's')",
                [name],
            )
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ReplicationFailed(
                    f"The initial copy into green did not finish within {timeout_s:g} s: {', '.join(r[0] for r in pending)}.",
                    state="Blue is unchanged and keeps serving; green is being filled.",
                    next_step="Look at the server log for replication errors; `db-migrate complete` drops green.",
                )
            time.sleep(POLL_S * 10)


def lag_bytes(source: Engine, name: str) -> int | None:
    """How far the subscriber is behind the source's WAL, in bytes (None: no such slot)."""
    rows = source.query(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots "
        "WHERE slot_name = %s",
        [name],
    )
    return max(int(rows[0][0] or 0), 0) if rows else None


def wait_streaming(source: Engine, name: str, timeout_s: float) -> None:
    """Until a subscriber reads the slot: a new subscription's worker starts within wal_retrieve_retry_interval
    (5 s by default, the launcher's pace), which a freeze should not wait through."""
    deadline = time.monotonic() + timeout_s
    while source.query("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [name]) != [(True,)]:
        if time.monotonic() > deadline:
            raise ReplicationFailed(
                f"No subscriber reads the replication slot {name} after {timeout_s:g} s.",
                state="Nothing was frozen or switched.",
                next_step="Look at the server log of the subscriber for replication errors.",
            )
        time.sleep(POLL_S * 5)


def wait_caught_up(source: Engine, name: str, timeout_s: float) -> None:
    """Until the subscriber confirmed every change the source had written when this was called."""
    target_lsn = source.query("SELECT pg_current_wal_lsn()")[0][0]
    deadline = time.monotonic() + timeout_s
    while True:
        rows = source.query(
            "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s",
            [target_lsn, name],
        )
        if not rows:
            raise ReplicationFailed(
                f"The replication slot {name} is gone: the copy no longer receives the source's writes.",
                state="Nothing was switched; the source serves (any freeze was lifted).",
                next_step="`db-migrate complete` drops the stale copy; the blue-green apply then makes a new one.",
            )
        if rows[0][0]:
            return
        if time.monotonic() > deadline:
            raise ReplicationFailed(
                f"The replica did not catch up with {target_lsn} within {timeout_s:g} s.",
                state="Nothing was switched; the source serves (any freeze was lifted).",
                next_step="Look at the replication lag in `db-migrate status` and the server log, then try again.",
            )
        time.sleep(POLL_S)


# ---- the write freeze ------------------------------------------------------------------------------
def freeze(server: DatabaseURL, database: str, bound_s: float, exclude: tuple[str, ...] = ()) -> list[str]:
    """New sessions read-only; running transactions get `bound_s` to end; then every other client session is
    ended (it would keep writing with its old setting). Returns the sessions ended. `exclude` is for databases
    that freeze per table: here the whole database is read-only for new sessions, the tool's own writes included
    (it sets default_transaction_read_only off where it writes)."""
    with closing(admin_session(server)) as admin:
        admin.execute(f"ALTER DATABASE {quote(database)} SET default_transaction_read_only = on")
        deadline = time.monotonic() + bound_s
        busy = "state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
        while _sessions(admin, database, busy) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        ended = _sessions(admin, database, "true")
        for pid, _ in ended:
            admin.query("SELECT pg_terminate_backend(%s)", [pid])
        return [f"{pid} ({what})" for pid, what in ended]


def _sessions(admin: Engine, database: str, condition: str) -> list[tuple[int, str]]:
    return admin.query(
        "SELECT pid, coalesce(nullif(application_name, ''), usename) || ': ' || state FROM pg_stat_activity "
        f"WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND {condition}",
        [database],
    )


def unfreeze(server: DatabaseURL, database: str) -> None:
    with closing(admin_session(server)) as admin:
        admin.execute(f"ALTER DATABASE {quote(database)} RESET default_transaction_read_only")


def is_frozen(server: DatabaseURL, database: str) -> bool:
    with closing(admin_session(server)) as admin:
        return bool(
            admin.query(
                "SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "WHERE d.datname = %s AND s.setrole = 0 AND 'default_transaction_read_only=on' = ANY(s.setconfig)",
                [database],
            )
        )


def copy_sequences(source: Engine, target: Engine) -> int:
    """Sequence values are not replicated: the target's continue from the source's (or their own, if further)."""
    rows = source.query(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value FROM pg_sequences "
        "WHERE schemaname = current_schema() AND last_value IS NOT NULL"
    )
    _writable(target)
    for sequence, value in rows:
        if target.query("SELECT to_regclass(%s)", [sequence])[0][0] is None:
            continue
        # Never backwards: the target may have used its own (the history's event ids on green, after the apply).
        used = target.query(f"SELECT CASE WHEN is_called THEN last_value END FROM {sequence}")[0][0]
        target.query("SELECT setval(%s, %s, true)", [sequence, max(value, used or value)])
    return len(rows)


def row_counts(engine: Engine, names: list[str]) -> dict[str, int]:
    return {t: engine.query(f"SELECT count(*) FROM {quote(t)}")[0][0] for t in names}


def _writable(engine: Engine) -> None:
    """Our own sessions write even where the database is frozen (the freeze is a default, not a lock)."""
    engine.execute("SET default_transaction_read_only = off")


def _conninfo(url: DatabaseURL) -> str:
    parts = {"host": url.host or "localhost", "port": url.port or 5432, "dbname": url.database, "user": url.user}
    if url.password:
        parts["password"] = url.password
    return " ".join(f"{k}={_quote_value(str(v))}" for k, v in parts.items() if v is not None)


def _quote_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
