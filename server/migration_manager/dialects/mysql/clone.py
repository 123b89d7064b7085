"""MySQL / MariaDB scratch copies, made inside the server: a new schema, each table re-created from
`SHOW CREATE TABLE` (foreign keys, indexes, AUTO_INCREMENT, charset), the rows copied with
INSERT ... SELECT in one consistent snapshot (like `mysqldump --single-transaction`), then the
views, triggers (after the rows, so they do not fire on the copy) and routines. A schema-only copy
skips the rows.
"""

from __future__ import annotations

from contextlib import closing

from ...clone import ScratchCopy, with_database
from ...errors import CopyFailed, MigrationError
from ...urls import DatabaseURL, redact
from .. import Engine, open_engine
from . import DIALECT

quote = DIALECT.quote

GENERATED = ("VIRTUAL", "STORED", "PERSISTENT")  # information_schema.columns.extra of generated columns


def make_copy(source: DatabaseURL, name: str, *, schema_only: bool = False) -> ScratchCopy:
    admin = admin_session(source)
    try:
        charset, collation = admin.query(
            "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
            "WHERE schema_name = %s",
            [source.database],
        )[0]
        admin.execute(f"CREATE DATABASE {quote(name)} CHARACTER SET {charset} COLLATE {collation}")
        try:
            _fill(source, name, schema_only)
        except BaseException:
            admin.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
            raise
    except MigrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - privileges, unknown definer...: say it, leave nothing behind
        raise CopyFailed(
            f"Could not create the scratch copy {name} of {source.redacted}: {_one_line(exc)}",
            state="The environment's database was not changed; no copy was left behind.",
            next_step="The user needs CREATE, DROP, SELECT, SHOW VIEW and TRIGGER privileges.",
        ) from None
    finally:
        admin.close()
    method = (
        "in-server schema-only copy (SHOW CREATE, views, triggers, routines; no rows)"
        if schema_only
        else "in-server copy (SHOW CREATE + INSERT ... SELECT in one snapshot, views, triggers, routines)"
    )
    return ScratchCopy(url=with_database(source, name), name=name, method=method, drop=lambda: drop(source, name))


def _fill(source: DatabaseURL, name: str, schema_only: bool) -> None:
    copy = open_engine(with_database(source, name))
    src = quote(source.database)
    try:
        # As mysqldump does: no FK checks while tables appear in any order; a 0 in an AUTO_INCREMENT
        # column stays 0 instead of drawing a new value.
        copy.execute("SET SESSION foreign_key_checks = 0")
        copy.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
        tables = [
            r[0]
            for r in copy.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' "
                "ORDER BY table_name",
                [source.database],
            )
        ]
        for table in tables:
            copy.execute(copy.query(f"SHOW CREATE TABLE {src}.{quote(table)}")[0][1])
        if not schema_only:
            _copy_rows(copy, source.database, tables)
        _copy_views(copy, source.database, name)
        _copy_triggers_and_routines(copy, source.database, name)
    finally:
        copy.close()


def _copy_rows(copy: Engine, source: str, tables: list[str]) -> None:
    copy.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    for table in tables:
        columns = ", ".join(quote(c) for c in _stored_columns(copy, source, table))
        copy.execute(f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {quote(source)}.{quote(table)}")
    copy.execute("COMMIT")


def _stored_columns(engine: Engine, schema: str, table: str) -> list[str]:
    rows = engine.query(
        "SELECT column_name, extra FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s ORDER BY ordinal_position",
        [schema, table],
    )
    return [c for c, extra in rows if not any(g in (extra or "").upper() for g in GENERATED)]


def _requalified(sql: str, source: str, name: str) -> str:
    # The server stores view bodies with every table qualified by the schema name.
    return sql.replace(f"{quote(source)}.", f"{quote(name)}.")


def _copy_views(engine: Engine, source: str, name: str) -> None:
    views = [
        r[0]
        for r in engine.query(
            "SELECT table_name FROM information_schema.views WHERE table_schema = %s ORDER BY 1", [source]
        )
    ]
    pending = {
        v: _requalified(engine.query(f"SHOW CREATE VIEW {quote(source)}.{quote(v)}")[0][1], source, name) for v in views
    }
    while pending:  # a view over another view must wait for it: retry until no progress
        progressed = False
        for view, ddl in list(pending.items()):
            try:
                engine.execute(ddl)
            except Exception:  # noqa: BLE001 - depends on a view not created yet
                continue
            del pending[view]
            progressed = True
        if not progressed:
            engine.execute(next(iter(pending.values())))  # raises the real error


def _copy_triggers_and_routines(engine: Engine, source: str, name: str) -> None:
    src = quote(source)
    for (trigger,) in engine.query(
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = %s "
        "ORDER BY event_object_table, action_order",
        [source],
    ):
        engine.execute(_requalified(engine.query(f"SHOW CREATE TRIGGER {src}.{quote(trigger)}")[0][2], source, name))
    for routine, kind in engine.query(
        "SELECT routine_name, routine_type FROM information_schema.routines WHERE routine_schema = %s ORDER BY 1",
        [source],
    ):
        engine.execute(engine.query(f"SHOW CREATE {kind} {src}.{quote(routine)}")[0][2])


def admin_session(source: DatabaseURL) -> Engine:
    return open_engine(with_database(source, ""))


def database_names(admin: Engine) -> list[str]:
    return [r[0] for r in admin.query("SELECT schema_name FROM information_schema.schemata")]


def drop(source: DatabaseURL, name: str) -> None:
    with closing(admin_session(source)) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {quote(name)}")


def fingerprint(engine: Engine, table: str, columns: list[str]) -> str:
    # QUOTE() renders NULL as the bare word NULL, so (NULL, 'a') and ('a', NULL) differ.
    row = ", ".join(f"QUOTE({quote(c)})" for c in columns)
    count, total = engine.query(
        f"SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', {row})), 1, 15), 16, 10) "
        f"AS UNSIGNED)), 0) FROM {quote(table)}"
    )[0]
    return f"{count}:{total}"


def constraint_problems(engine: Engine) -> list[str]:
    """Foreign keys are not re-checked when foreign_key_checks was off: look for orphan rows."""
    keys = engine.query(
        "SELECT k.constraint_name, k.table_name, k.referenced_table_name, "
        "GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position SEPARATOR '\\t'), "
        "GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position SEPARATOR '\\t') "
        "FROM information_schema.key_column_usage k WHERE k.table_schema = DATABASE() "
        "AND k.referenced_table_name IS NOT NULL GROUP BY k.constraint_name, k.table_name, k.referenced_table_name"
    )
    problems = []
    for constraint, table, parent, columns, parent_columns in keys:
        child_cols, parent_cols = columns.split("\t"), parent_columns.split("\t")
        join = " AND ".join(f"p.{quote(p)} = c.{quote(c)}" for c, p in zip(child_cols, parent_cols))
        not_null = " AND ".join(f"c.{quote(c)} IS NOT NULL" for c in child_cols)
        orphans = engine.query(
            f"SELECT COUNT(*) FROM {quote(table)} c WHERE {not_null} AND NOT EXISTS "
            f"(SELECT 1 FROM {quote(parent)} p WHERE {join})"
        )[0][0]
        if orphans:
            problems.append(f"foreign key {constraint}: {orphans} row(s) of {table} point to no row of {parent}")
    return problems


def _one_line(exc: BaseException) -> str:
    return redact(" ".join(str(exc).split()))[:400] or type(exc).__name__
