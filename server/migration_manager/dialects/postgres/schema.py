"""PostgreSQL catalog reader: three queries for the whole current schema (pg_catalog, not
information_schema, which is slow and hides indexes)."""

from __future__ import annotations

from ...analysis.schema import Column, ColumnType, Constraint, Index, Naming, Snapshot, Table, key

# Index names share the schema's relation namespace with tables and sequences; constraint
# names are per table (but a PK/UNIQUE constraint's index takes the same name in the schema).
NAMING = Naming(index_names="schema", constraint_names="table")

_COLUMNS = """
SELECT c.relname, c.relkind IN ('v', 'm'), a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname, a.attnum"""

_INDEXES = """
SELECT t.relname, i.relname, ix.indisunique, ix.indisprimary,
       ARRAY(SELECT coalesce(a.attname, '(expression)')
             FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()"""

_CONSTRAINTS = """
SELECT t.relname, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
       rt.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
       pg_get_constraintdef(con.oid), con.convalidated
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class rt ON rt.oid = con.confrelid
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f', 'c')"""

_OTHER_RELATIONS = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('S', 'c')"""

_KINDS = {"p": "primary_key", "u": "unique", "f": "foreign_key", "c": "check"}


def read(engine) -> Snapshot:
    snapshot = Snapshot("postgres", NAMING, name=engine.query("SELECT current_schema()")[0][0])
    for table, is_view, column, type_text, nullable, default in engine.query(_COLUMNS):
        entry = snapshot.tables.setdefault(key(table), Table(table, view=is_view))
        if column is not None:
            entry.columns[key(column)] = Column(column, ColumnType.parse(type_text, "postgres"), nullable, default)
    for table, name, unique, primary, columns in engine.query(_INDEXES):
        snapshot.tables[key(table)].indexes[key(name)] = Index(name, table, tuple(columns), unique, primary)
    for table, name, kind, columns, ref_table, ref_columns, definition, valid in engine.query(_CONSTRAINTS):
        snapshot.tables[key(table)].constraints[key(name)] = Constraint(
            name, table, _KINDS[kind], tuple(columns), ref_table, tuple(ref_columns), definition, valid
        )
    snapshot.other_relations = {key(r[0]) for r in engine.query(_OTHER_RELATIONS)}
    return snapshot
