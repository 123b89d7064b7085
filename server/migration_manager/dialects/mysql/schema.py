"""MySQL / MariaDB catalog reader: information_schema, four queries for the whole database."""

from __future__ import annotations

from ...analysis.schema import Column, ColumnType, Constraint, Index, Naming, Snapshot, Table, key

# Index names are per table; foreign-key names are per database in InnoDB ("Duplicate foreign
# key constraint name"), and so are CHECK names on MySQL 8 (MariaDB keeps them per table).
NAMING = Naming(
    index_names="table",
    constraint_names="schema",
    generated="first_column",
    primary_key_name="PRIMARY",  # MySQL ignores a primary key's name
    foreign_key_index=True,
    if_not_exists_by_name=True,
)

_TABLES = """SELECT table_name, table_type = 'VIEW' FROM information_schema.tables
WHERE table_schema = DATABASE()"""

_COLUMNS = """SELECT table_name, column_name, column_type, is_nullable = 'YES', column_default
FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position"""

_INDEXES = """SELECT table_name, index_name, non_unique = 0, coalesce(column_name, '(expression)')
FROM information_schema.statistics WHERE table_schema = DATABASE()
ORDER BY table_name, index_name, seq_in_index"""

_CONSTRAINTS = """SELECT tc.table_name, tc.constraint_name, tc.constraint_type, kcu.column_name,
       kcu.referenced_table_name, kcu.referenced_column_name
FROM information_schema.table_constraints tc
LEFT JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_schema = tc.constraint_schema AND kcu.table_name = tc.table_name
 AND kcu.constraint_name = tc.constraint_name
WHERE tc.constraint_schema = DATABASE()
ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position"""

_KINDS = {"PRIMARY KEY": "primary_key", "UNIQUE": "unique", "FOREIGN KEY": "foreign_key", "CHECK": "check"}


def read(engine) -> Snapshot:
    snapshot = Snapshot("mysql", NAMING, name=engine.query("SELECT DATABASE()")[0][0])
    for table, is_view in engine.query(_TABLES):
        snapshot.tables[key(table)] = Table(table, view=bool(is_view))
    for table, column, type_text, nullable, default in engine.query(_COLUMNS):
        snapshot.tables[key(table)].columns[key(column)] = Column(
            column, ColumnType.parse(_text(type_text), "mysql"), bool(nullable), default
        )
    for table, name, unique, column in engine.query(_INDEXES):
        indexes = snapshot.tables[key(table)].indexes
        found = indexes.setdefault(key(name), Index(name, table, (), bool(unique), name == "PRIMARY"))
        found.columns += (column,)
    for table, name, kind, column, ref_table, ref_column in engine.query(_CONSTRAINTS):
        constraints = snapshot.tables[key(table)].constraints
        found = constraints.setdefault(key(name), Constraint(name, table, _KINDS[kind], ref_table=ref_table))
        if column is not None:
            found.columns += (column,)
        if ref_column is not None:
            found.ref_columns += (ref_column,)
    return snapshot


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
