"""A snapshot of the live schema (tables, columns, indexes, constraints, foreign keys) that the
simulation can change in memory: "what would this migration do" without touching the database.

One catalog reader per database (`dialects/<db>/schema.py`), each a handful of
catalog queries for the whole schema (not one round trip per table), and each says how its
server scopes names (`Naming`): PostgreSQL puts index names in the schema's relation namespace,
MySQL/MariaDB per table, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from sqlglot import exp

from ... import dialects
from ...dialects import dialect_part

ConstraintKind = Literal["primary_key", "unique", "foreign_key", "check"]


def key(name: str) -> str:
    """Names compare case-insensitively (unquoted identifiers fold on every server we read)."""
    return name.strip('"`[]').lower()


@dataclass(frozen=True)
class ColumnType:
    """A column type as the server reports it, with sqlglot's normalized form for comparisons."""

    text: str
    normalized: str
    family: str  # integer | decimal | float | string | temporal | boolean | json | uuid | binary | other

    @classmethod
    def parse(cls, text: str, dialect: str) -> ColumnType:
        return _parse_type(text, dialect)

    @classmethod
    def _parse(cls, text: str, dialect: str) -> ColumnType:
        try:
            data_type = exp.DataType.build(text, dialect=dialect)
        except Exception:  # noqa: BLE001 - a type sqlglot does not know (domains, enums, arrays of them)
            return cls(text, text.lower(), "other")
        family = _family(data_type)
        if family == "integer":  # MySQL's display width (int(11)) is not part of the type
            data_type.set("expressions", [])
            stored = dialects.get(dialect).serial_types.get(data_type.this.name)
            data_type.set("this", _T[stored] if stored else data_type.this)
        return cls(text, data_type.sql(dialect=dialect).lower(), family)


_T = exp.DataType.Type


@lru_cache(maxsize=4096)
def _parse_type(text: str, dialect: str) -> ColumnType:
    """Cached (a ColumnType is immutable): a schema repeats a few types over thousands of columns."""
    return ColumnType._parse(text, dialect)


def _family(data_type: exp.DataType) -> str:
    T = exp.DataType.Type
    groups = [
        ("integer", exp.DataType.INTEGER_TYPES | {T.SERIAL, T.BIGSERIAL, T.SMALLSERIAL}),
        ("decimal", exp.DataType.REAL_TYPES - exp.DataType.FLOAT_TYPES - {T.UDOUBLE}),
        ("float", exp.DataType.FLOAT_TYPES | {T.UDOUBLE}),
        ("string", exp.DataType.TEXT_TYPES),
        ("temporal", exp.DataType.TEMPORAL_TYPES | {T.INTERVAL}),
        ("boolean", {T.BOOLEAN}),
        ("json", {T.JSON, T.JSONB}),
        ("uuid", {T.UUID}),
        ("binary", exp.DataType.BINARY_TYPES | {T.VARBINARY}),
    ]
    return next((name for name, kinds in groups if data_type.this in kinds), "other")


@dataclass
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    default: str | None = None


@dataclass
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False


@dataclass
class Constraint:
    name: str
    table: str
    kind: ConstraintKind
    columns: tuple[str, ...] = ()
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    definition: str | None = None  # CHECK expression (as the server prints it), when known
    valid: bool = True  # False: added NOT VALID and not validated yet (PostgreSQL)


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)  # key(name) -> Column, in table order
    indexes: dict[str, Index] = field(default_factory=dict)
    constraints: dict[str, Constraint] = field(default_factory=dict)
    view: bool = False

    def column(self, name: str) -> Column | None:
        return self.columns.get(key(name))

    def copy(self) -> Table:
        """A copy whose columns, indexes and constraints can change without touching this one."""
        return replace(
            self,
            columns={k: replace(c) for k, c in self.columns.items()},
            indexes={k: replace(i) for k, i in self.indexes.items()},
            constraints={k: replace(c) for k, c in self.constraints.items()},
        )

    def has_index_leading_with(self, columns: tuple[str, ...]) -> bool:
        wanted = [key(c) for c in columns]
        return any([key(c) for c in i.columns[: len(wanted)]] == wanted for i in self.indexes.values())

    def is_unique_on(self, columns: tuple[str, ...]) -> bool:
        """Is there a primary key or unique index/constraint on exactly these columns (any order)?"""
        wanted = {key(c) for c in columns}
        uniques = [i.columns for i in self.indexes.values() if i.unique or i.primary]
        uniques += [c.columns for c in self.constraints.values() if c.kind in ("primary_key", "unique")]
        return any({key(c) for c in cols} == wanted for cols in uniques)

    def primary_columns(self) -> tuple[str, ...]:
        found = [c.columns for c in self.constraints.values() if c.kind == "primary_key"]
        found += [i.columns for i in self.indexes.values() if i.primary]
        return found[0] if found else ()


@dataclass(frozen=True)
class Naming:
    """How a server scopes object names (the source of "already exists" errors)."""

    index_names: Literal["schema", "table"]  # PostgreSQL: one namespace with tables; MySQL: per table
    # MySQL/MariaDB foreign keys: per database; SQLite reads a constraint's name and ignores it ("none")
    constraint_names: Literal["schema", "table", "none"]
    # How unnamed constraints get their names: <table>_<columns>_<suffix> (PostgreSQL), or after their first column,
    # <table>_ibfk_<n> and CONSTRAINT_<n> (MySQL/MariaDB)
    generated: Literal["table_columns", "first_column"] = "table_columns"
    primary_key_name: str | None = None  # the name every primary key gets, whatever the statement says (PRIMARY)
    foreign_key_index: bool = False  # InnoDB adds an index named like the FK when none leads with its columns
    # A key's index is named by the server, <prefix><table>_<n>, and renamed with its table (SQLite: sqlite_autoindex_)
    autoindex_prefix: str | None = None
    integer_key_is_rowid: bool = False  # a one-column INTEGER PRIMARY KEY is the rowid itself: no index (SQLite)
    if_not_exists_by_name: bool = False  # CREATE INDEX IF NOT EXISTS skips on the name alone, columns unchecked

    def generated_name(self, table: str, columns: list[str], suffix: str, taken) -> str:
        """The name the server gives an unnamed constraint or index (suffix: pkey, key, fkey,
        check, idx), numbered like the server does until `taken(name)` is False."""
        if suffix == "pkey" and self.primary_key_name:
            return self.primary_key_name
        if self.generated == "first_column":
            numbered = {"fkey": f"{table}_ibfk_", "check": "CONSTRAINT_"}.get(suffix)
            first = columns[0] if columns else table
            candidates = (
                f"{numbered}{n}" if numbered else (first if n == 1 else f"{first}_{n}") for n in range(1, 10**6)
            )
        else:
            parts = [table] if suffix == "pkey" else [table, *(columns[:1] if suffix == "check" else columns)]
            base = "_".join([*parts, suffix])[:63]
            candidates = (base if n == 0 else f"{base}{n}" for n in range(10**6))
        return next(name for name in candidates if not taken(name))


@dataclass
class Snapshot:
    dialect: str
    naming: Naming
    tables: dict[str, Table] = field(default_factory=dict)  # key(name) -> Table (views included)
    other_relations: set[str] = field(default_factory=set)  # sequences etc.: they share PG's namespace
    name: str | None = None  # the schema (PostgreSQL) or database (MySQL) that was read
    # Tables this snapshot may change in place: copied or added since the last copy. Every other table may be
    # shared with a copy (kept as a set of the few owned, not of the many shared: copying stays one dict).
    owned: set[str] = field(default_factory=set, repr=False)
    touched: set[str] = field(default_factory=set, repr=False)  # tables added, dropped or edited since the last copy
    # Where to look instead of scanning every table: the tables that may hold a foreign key, and per index
    # name the tables that may hold such an index. Built on first use, then only grown (`note_*`, `put`), and
    # shared with copies: a superset for every snapshot, each candidate checked against the table itself.
    _fk_holders: dict[str, None] | None = field(default=None, repr=False)  # ordered: findings come out the same
    _index_holders: dict[str, set[str]] | None = field(default=None, repr=False)

    def table(self, name: str) -> Table | None:
        return self.tables.get(key(name))

    def copy(self) -> Snapshot:
        """Copy on write: the copy shares every table until `edit` changes it, so copying a big
        schema per migration costs one dict, not the schema."""
        self.owned = set()  # both sides now share every table: both must copy before a change
        self.touched = set()
        self._build_holders()  # before sharing them: built once for a snapshot and all its copies
        return replace(
            self, tables=dict(self.tables), other_relations=set(self.other_relations), owned=set(), touched=set()
        )

    def edit(self, name: str) -> Table | None:
        """The table `name`, safe to change in this snapshot only."""
        name = key(name)
        table = self.tables.get(name)
        if table is not None and name not in self.owned:
            table = self.tables[name] = table.copy()
            self.owned.add(name)
            self.touched.add(name)
        return table

    def put(self, table: Table) -> None:
        """Add (or replace) a table."""
        self.tables[key(table.name)] = table
        self.owned.add(key(table.name))
        self.touched.add(key(table.name))
        for index in table.indexes:
            self.note_index(index, table.name)
        if any(c.kind == "foreign_key" for c in table.constraints.values()):
            self.note_foreign_key(table.name)

    def remove(self, name: str) -> None:
        self.tables.pop(key(name), None)
        self.touched.add(key(name))

    def changed_tables(self, other: Snapshot, among: set[str]) -> set[str]:
        """Names of the tables that differ in identity between the two snapshots (added, dropped,
        or edited in either): only these can differ in shape. `among`: the names either side touched
        since they were copied from one another (no scan of the whole schema per migration)."""
        return {n for n in among if self.tables.get(n) is not other.tables.get(n)}

    def note_index(self, index: str, table: str) -> None:
        """`table` now has an index named `index` (called by whatever adds one)."""
        if self._index_holders is not None:
            self._index_holders.setdefault(key(index), set()).add(key(table))

    def note_foreign_key(self, table: str) -> None:
        """`table` now has a foreign key (called by whatever adds one)."""
        if self._fk_holders is not None:
            self._fk_holders[key(table)] = None

    def _build_holders(self) -> None:
        if self._fk_holders is None:
            self._fk_holders = {
                n: None for n, t in self.tables.items() if any(c.kind == "foreign_key" for c in t.constraints.values())
            }
        if self._index_holders is None:
            self._index_holders = {}
            for table_key, table in self.tables.items():
                for index in table.indexes:
                    self._index_holders.setdefault(index, set()).add(table_key)

    def foreign_key_holders(self) -> list[Table]:
        """The tables with a foreign key (and maybe a few without: callers check the constraints)."""
        self._build_holders()
        return [t for t in map(self.tables.get, list(self._fk_holders)) if t is not None]

    def _tables_with_index(self, name: str) -> list[Table]:
        """The tables that have an index named `name` (a key)."""
        self._build_holders()
        found = map(self.tables.get, sorted(self._index_holders.get(name, ())))
        return [t for t in found if t is not None and name in t.indexes]

    def index_owner(self, name: str, table: str) -> str | None:
        """The table that already has an index named `name` where it would clash, else None."""
        name = key(name)
        if self.naming.index_names == "schema":
            return next((t.name for t in self._tables_with_index(name)), None)
        found = self.table(table)
        return found.name if found is not None and name in found.indexes else None

    def constraint_owner(self, name: str, table: str, kind: ConstraintKind) -> str | None:
        if self.naming.constraint_names == "none":  # SQLite: no clash, not even with an index of that name
            return None
        # Constraints backed by an index (PK/UNIQUE) clash with index names too on PostgreSQL.
        scope_all = self.naming.constraint_names == "schema" and kind == "foreign_key"
        candidates = self.tables.values() if scope_all else filter(None, [self.table(table)])
        wanted = key(name)
        owner = next((t.name for t in candidates if wanted in t.constraints), None)
        if owner is None and kind in ("primary_key", "unique"):
            owner = self.index_owner(name, table)
        return owner

    def relation_exists(self, name: str) -> bool:
        """Would a new table/index named `name` clash with an existing relation (PostgreSQL namespace)?"""
        name = key(name)
        return (
            name in self.tables
            or name in self.other_relations
            or (self.naming.index_names == "schema" and bool(self._tables_with_index(name)))
        )

    def index_table(self, name: str) -> str | None:
        """The table an index belongs to (PostgreSQL's DROP INDEX names only the index)."""
        return next((t.name for t in self._tables_with_index(key(name))), None)

    def resolve(self, op):
        """`op` with what its SQL leaves out but this schema knows (`Operation.resolved`)."""
        return op.resolved(self)

    def shape(self, only: set[str] | None = None) -> dict[str, dict]:
        """A comparable picture of the schema (or of the tables `only`): what must be equal after UP
        then DOWN."""
        names = self.tables if only is None else [n for n in only if n in self.tables]
        named = self.naming.constraint_names != "none"
        return {name: _table_shape(self.tables[name], named) for name in names}


def _table_shape(table: Table, named: bool) -> dict:
    """`named`: constraints compare by name; else (SQLite, whose constraint names mean nothing) by what they are."""
    constraints = {}
    for name, c in table.constraints.items():
        what = (c.kind, tuple(map(key, c.columns)), key(c.ref_table or ""))
        if not named:
            name = (
                f"{c.kind} ({', '.join(what[1])})"
                + (f" -> {what[2]}" if what[2] else "")
                + (f" {c.definition}" if c.definition else "")
            )
            name += f" #{sum(n.startswith(name) for n in constraints) + 1}" if name in constraints else ""
        constraints[name] = what
    return {
        "columns": {n: (c.type.normalized, c.nullable) for n, c in table.columns.items()},
        "indexes": {n: (tuple(map(key, i.columns)), i.unique) for n, i in table.indexes.items()},
        "constraints": constraints,
    }


TOOL_PREFIX = "_mm_"  # migration-manager's own tables (archive/__init__.py), never part of the user's schema


def read_schema(engine, exclude: tuple[str, ...] = ()) -> Snapshot:
    """Snapshot the current schema of the engine's database (the tables in `exclude` left out,
    e.g. the history tables, which migrations never touch, and the tool's own `_mm_` tables:
    archives of destroyed data)."""
    reader = dialect_part(engine.dialect, "schema")
    snapshot = reader.read(engine)
    for name in [*exclude, *(n for n in snapshot.tables if n.startswith(TOOL_PREFIX))]:
        snapshot.tables.pop(key(name), None)
    return snapshot
