"""Helpers for the backup tests: projects, seeded schemas, and a fingerprint of a whole database
(schema from SQLAlchemy's inspector + a checksum of every table's rows) to prove "identical"."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbcheck import make_project  # noqa: F401 - the backup tests' project folders
from migration_manager.dialects import open_engine

LOG_TABLE = "schema_migrations_log"  # the append-only audit log: it grows by design, so it is compared apart

SEED = {
    "common": [
        "CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, note text)",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id), "
        "total numeric(10, 2) NOT NULL DEFAULT 0)",
        "CREATE INDEX orders_customer ON orders (customer_id)",
        "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
    ],
    "postgres": [
        "INSERT INTO customers SELECT g, 'c' || g || '@example.com', CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END "
        "FROM generate_series(1, 500) g",
        "INSERT INTO orders SELECT g, 1 + g % 500, (g % 250) * 1.5 FROM generate_series(1, 2000) g",
        "CREATE SEQUENCE invoice_numbers START 1000",
        "CREATE TYPE mood AS ENUM ('happy', 'sad')",
    ],
    "mysql": [
        "INSERT INTO customers WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) "
        "SELECT n, concat('c', n, '@example.com'), IF(n % 3 = 0, NULL, concat('n', n)) FROM g",
        "INSERT INTO orders WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000) "
        "SELECT n, 1 + n % 500, (n % 250) * 1.5 FROM g",
        "CREATE PROCEDURE order_count() SELECT count(*) FROM orders",
    ],
    "sqlite": [
        "INSERT INTO customers WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) "
        "SELECT n, 'c' || n || '@example.com', CASE WHEN n % 3 = 0 THEN NULL ELSE 'n' || n END FROM g",
        "INSERT INTO orders WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000) "
        "SELECT n, 1 + n % 500, (n % 250) * 1.5 FROM g",
    ],
}


def write_migration(project: Path, version: str, name: str, up: list[str], down: list[str] | None) -> None:
    text = "-- UP\n" + "".join(f"{s};\n" for s in up) + ("-- DOWN\n" + "".join(f"{s};\n" for s in down) if down else "")
    (project / "migrations" / f"{version}_{name}.sql").write_text(text)


def dialect_of(url: str) -> str:
    return "postgres" if url.startswith("postgres") else "mysql" if url.startswith("mysql") else "sqlite"


def run_sql(url: str, *statements: str) -> None:
    engine = open_engine(url)
    try:
        for statement in statements:
            engine.execute(statement)
    finally:
        engine.close()


def seed(url: str) -> None:
    run_sql(url, *SEED["common"], *SEED[dialect_of(url)])


def fingerprint(url: str, *, with_log: bool = False, user_tables_only: bool = False) -> dict[str, Any]:
    """Schema (tables, columns, keys, indexes, views) and a sha256 of each table's sorted rows.

    user_tables_only leaves out the history tables (apply creates them, empty, before its gate)."""
    import sqlalchemy as sa

    engine = open_engine(url)
    try:
        sa_engine = sa.create_engine(engine.sqlalchemy_url())
        inspector = sa.inspect(sa_engine)
        tables = sorted(t for t in inspector.get_table_names() if with_log or t != LOG_TABLE)
        if user_tables_only:
            tables = [t for t in tables if not t.startswith("schema_migrations")]
        schema = {t: _table_schema(inspector, t) for t in tables}
        views = sorted(inspector.get_view_names())
        rows = {t: _rows_checksum(engine, t) for t in tables}
        sa_engine.dispose()
    finally:
        engine.close()
    return {"schema": schema, "views": views, "rows": rows}


def history_rows(url: str) -> list[tuple]:
    engine = open_engine(url)
    try:
        return (
            engine.query("SELECT version, status FROM schema_migrations")
            if engine.table_exists("schema_migrations")
            else []
        )
    finally:
        engine.close()


def _table_schema(inspector, table: str) -> dict[str, Any]:
    return {
        "columns": [
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(table)
        ],
        "pk": inspector.get_pk_constraint(table).get("constrained_columns"),
        "fks": sorted(
            (tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)
        ),
        "indexes": sorted(
            (i["name"] or "", tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
        ),
        "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
    }


def _rows_checksum(engine, table: str) -> str:
    quote = "`" if engine.dialect == "mysql" else '"'
    rows = engine.query(f"SELECT * FROM {quote}{table}{quote}")
    return hashlib.sha256(repr(sorted(repr(r) for r in rows)).encode()).hexdigest()


@contextmanager
def another_database(url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as `url`, dropped afterwards (for restore --into)."""
    kind = dialect_of(url)
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'into-{uuid.uuid4().hex[:6]}.db'}"
        return
    name = f"mm_into_{uuid.uuid4().hex[:12]}"
    base, admin_db = url.rsplit("/", 1)[0], "postgres" if kind == "postgres" else ""
    create, drop = (
        (f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if kind == "postgres"
        else (f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`")
    )
    run_sql(f"{base}/{admin_db}", create)
    try:
        yield f"{base}/{name}"
    finally:
        run_sql(f"{base}/{admin_db}", drop)
