"""SQLite reader: sqlite_schema plus the table/index/foreign-key PRAGMAs."""

from __future__ import annotations

from ...analysis.schema import Column, ColumnType, Constraint, Index, Naming, Snapshot, Table, key
from . import DIALECT

quote = DIALECT.quote

# Index names are database-wide, like table names; a constraint's name is read and ignored (two constraints
# of a table, or a constraint and an index, may share a name; a key's index is sqlite_autoindex_<table>_<n>).
NAMING = Naming(
    index_names="schema",
    constraint_names="none",
    autoindex_prefix="sqlite_autoindex_",
    integer_key_is_rowid=True,
    if_not_exists_by_name=True,
)


def read(engine) -> Snapshot:
    snapshot = Snapshot("sqlite", NAMING)
    objects = engine.query(
        "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
    )
    for name, kind in objects:
        table = snapshot.tables[key(name)] = Table(name, view=kind == "view")
        _read_columns(engine, table)
        if kind == "table":
            _read_indexes(engine, table)
            _read_foreign_keys(engine, table)
    return snapshot


def _read_columns(engine, table: Table) -> None:
    primary = []
    for _, name, type_text, notnull, default, pk in engine.query(f"PRAGMA table_info({quote(table.name)})"):
        table.columns[key(name)] = Column(name, ColumnType.parse(type_text or "blob", "sqlite"), not notnull, default)
        if pk:
            primary.append((pk, name))
    if primary:
        table.constraints["primary"] = Constraint(
            "PRIMARY", table.name, "primary_key", tuple(name for _, name in sorted(primary))
        )


def _read_indexes(engine, table: Table) -> None:
    for _, name, unique, origin, _partial in engine.query(f"PRAGMA index_list({quote(table.name)})"):
        columns = tuple(r[2] or "(expression)" for r in engine.query(f"PRAGMA index_info({quote(name)})"))
        table.indexes[key(name)] = Index(name, table.name, columns, bool(unique), origin == "pk")


def _read_foreign_keys(engine, table: Table) -> None:
    for row in engine.query(f"PRAGMA foreign_key_list({quote(table.name)})"):
        fk_id, _, ref_table, column, ref_column = row[:5]
        name = f"fk_{table.name}_{fk_id}"  # SQLite keeps no names for foreign keys
        found = table.constraints.setdefault(
            key(name), Constraint(name, table.name, "foreign_key", ref_table=ref_table)
        )
        found.columns += (column,)
        found.ref_columns += (ref_column,) if ref_column else ()
