"""Replay operations on a schema snapshot, the way the server would run them, and say what the
server would refuse (missing table/column, duplicate name, FK target or type, type change).

Statements the parser cannot read (`other`: CALL, DO blocks, functions and procedures, dynamic SQL)
may create or drop anything: the names they mention are "uncertain", and the replay says nothing
about an uncertain object (neither missing nor already there) until a later statement defines it
again. After a Python migration, a missing object is a warning, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...dialects.base import capabilities
from ..model import Finding, Operation, Severity
from ..schema import Column, ColumnType, Constraint, Index, Snapshot, Table, key
from .type_rules import foreign_key_problem, type_change_problem

_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_IGNORED = {"set", "set_lock_timeout", "set_statement_timeout"}


def _sqlite_rowid(statement: str | None, columns: list[str]) -> bool:
    """A primary key of one column declared exactly INTEGER is SQLite's rowid (but not `INTEGER PRIMARY KEY
    DESC`, a quirk SQLite keeps). The type as written is read from the statement: the parsed one says INTEGER
    for INT and BIGINT too, which get an index."""
    if len(columns) != 1 or not statement:
        return False
    name = re.escape(columns[0])
    declared = re.search(
        rf'[(,]\s*(?:"{name}"|`{name}`|\[{name}\]|{name})\s+integer\b'
        r"(?!\s*(?:unsigned|\())(?!\s+primary\s+key\s+desc\b)",
        statement,
        re.IGNORECASE,
    )
    return declared is not None


@dataclass
class Replay:
    schema: Snapshot
    migration: str = ""
    direction: str = "up"
    findings: list[Finding] = field(default_factory=list)
    uncertain: set[str] = field(default_factory=set)
    opaque: bool = False  # a Python migration ran: the schema is no longer known
    # Foreign keys whose two sides a type change left different but compatible: a later statement of the
    # same script often changes the other side too, so they are judged once the script has run.
    mismatched: dict[tuple[str, str, str, str], Operation] = field(default_factory=dict)

    # ---- entry points -------------------------------------------------------------------------
    def run(self, ops: list[Operation]) -> None:
        for op in ops:
            if op.schema_name and key(op.schema_name) != key(self.schema.name or op.schema_name):
                continue  # another schema: not in the snapshot
            if op.kind == "other":
                self.uncertain |= {key(w) for w in _WORDS.findall(op.statement)}
            elif op.kind not in _IGNORED:
                getattr(self, f"_{op.kind}")(self.schema.resolve(op))
        self._judge_mismatched()

    def run_python(self) -> None:
        self.opaque = True

    # ---- findings ------------------------------------------------------------------------------
    def report(
        self, op: Operation, rule: str, severity: Severity, title: str, message: str, recommendation: str = "", **fields
    ) -> None:
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity,
                title=title,
                message=message,
                migration=self.migration,
                direction=self.direction,
                statement_index=op.statement_index,
                statement=op.statement,
                table=fields.pop("table", op.table),
                column=fields.pop("column", op.column),
                recommendation=recommendation,
                **fields,
            )
        )

    def unknown(self, *names: str | None) -> bool:
        """Did a statement the analysis cannot read mention one of these names (it may have created,
        dropped or changed it)?"""
        return any(name and key(name) in self.uncertain for name in names)

    def defined(self, name: str) -> None:
        """A statement the analysis reads defined `name`: it is known again."""
        self.uncertain.discard(key(name))

    def missing(self, op: Operation, what: str, name: str, *, table: str | None = None) -> None:
        if op.if_exists or self.unknown(name, table):
            return
        certain = not self.opaque
        where = f" on {table}" if table and what != "table" else ""
        self.report(
            op,
            f"schema-missing-{what}",
            "error" if certain else "warning",
            f"{what} does not exist",
            f"{what.capitalize()} {name}{where} does not exist at this point of the plan: the statement fails."
            + ("" if certain else " (An earlier statement the analysis cannot read may create it.)"),
            "Check the name, or the order of the migrations.",
        )

    def exists(self, op: Operation, what: str, name: str, where: str = "") -> None:
        if op.if_not_exists or self.unknown(name, op.table):
            return
        self.report(
            op,
            "schema-already-exists",
            "error",
            f"{what} created twice",
            f"{what.capitalize()} {name}{where} already exists at this point of the plan: the statement fails.",
            "Remove the duplicate, or use another name.",
        )

    # ---- lookups -------------------------------------------------------------------------------
    def table(self, op: Operation, name: str | None = None) -> Table | None:
        """The table the operation changes (a private copy in this snapshot), or a finding."""
        name = name or op.table
        found = self.schema.edit(name) if name else None
        if found is None and name:
            self.missing(op, "table", name)
        return found

    def columns(self, op: Operation, table: Table, names: list[str]) -> bool:
        if table.view or not table.columns and key(table.name) in self.uncertain:
            return True
        missing = [n for n in names if table.column(n) is None]
        for name in missing:
            self.missing(op, "column", name, table=table.name)
        return not missing

    # ---- tables --------------------------------------------------------------------------------
    def _create_table(self, op: Operation) -> None:
        if self.schema.relation_exists(op.table) and not (self.unknown(op.table) and op.column_specs):
            return self.exists(op, "table", op.table)
        table = Table(op.table)
        self.schema.put(table)
        if op.column_specs:
            self.defined(op.table)
        else:  # CREATE TABLE ... AS / LIKE: columns unknown
            self.uncertain.add(key(op.table))
        for spec in op.column_specs:
            table.columns[key(spec.name)] = Column(
                spec.name, ColumnType.parse(spec.type, self.schema.dialect), spec.nullable, spec.default
            )
            if spec.primary_key or spec.unique:
                self._add_key(op, table, "primary_key" if spec.primary_key else "unique", [spec.name], spec.key_name)
        for constraint in op.constraints:
            self._add_constraint(
                constraint.model_copy(update={"statement": op.statement, "statement_index": op.statement_index})
            )

    def _drop_table(self, op: Operation) -> None:
        table = self.table(op)
        if table is None:
            return
        dropped = key(table.name)
        referencing = [
            (t, c)
            for t in self.schema.foreign_key_holders()
            if t is not table
            for c in t.constraints.values()
            if c.kind == "foreign_key" and key(c.ref_table or "") == dropped
        ]
        # Foreign keys by name (SQLite) let a referenced table go (its rebuild recipe: new table, copy, drop,
        # rename): no error there.
        by_name = capabilities(self.schema.dialect).foreign_keys_by_name
        if referencing and not op.cascade and not by_name:
            names = ", ".join(f"{t.name}.{c.name}" for t, c in referencing)
            self.report(
                op,
                "schema-still-referenced",
                "error",
                "table still referenced",
                f"{table.name} is referenced by foreign key(s) {names}: DROP TABLE fails without CASCADE.",
                "Drop the foreign keys first (or the referencing tables).",
            )
        if not by_name:  # a foreign key that names its table binds to a new table of that name
            for other, constraint in referencing:
                self.schema.edit(other.name).constraints.pop(key(constraint.name), None)
        self.schema.remove(table.name)

    def _create_view(self, op: Operation) -> None:
        """A view or materialized view: a relation whose columns are not read (never reported missing)."""
        existing = self.schema.table(op.table)
        if existing is not None and not (existing.view and op.if_not_exists):  # OR REPLACE replaces a view only
            return self.exists(op, "view" if existing.view else "table", op.table)
        self.schema.put(Table(op.table, view=True))

    def _drop_view(self, op: Operation) -> None:
        existing = self.schema.table(op.table)
        if existing is None or not existing.view:
            return self.missing(op, "view", op.table)
        self.schema.remove(op.table)

    def _rename_table(self, op: Operation) -> None:
        table = self.table(op)
        if table is None or not op.new_name:
            return
        if self.schema.relation_exists(op.new_name):
            return self.exists(op, "table", op.new_name)
        self.schema.remove(table.name)
        old, table.name = table.name, op.new_name
        if self.schema.dialect == "sqlite":
            table.indexes = self._sqlite_autoindexes_renamed(table, old)
        self.schema.put(table)
        for other in self._referencing(old):
            for constraint in other.constraints.values():
                if key(constraint.ref_table or "") == key(old):
                    constraint.ref_table = op.new_name

    @staticmethod
    def _sqlite_autoindexes_renamed(table: Table, old: str) -> dict[str, Index]:
        """SQLite renames a table's key indexes with it: sqlite_autoindex_<old>_<n> becomes ..._<new>_<n>."""
        prefix, renamed = key(f"sqlite_autoindex_{old}_"), {}
        for name, index in table.indexes.items():
            if name.startswith(prefix):
                index.name = f"sqlite_autoindex_{table.name}_{index.name[len(prefix) :]}"
            renamed[key(index.name)] = index
        return renamed

    def _referencing(self, name: str) -> list[Table]:
        """Tables with a foreign key to `name`, each a private copy ready to change."""
        found = [
            t.name
            for t in self.schema.foreign_key_holders()
            if any(c.kind == "foreign_key" and key(c.ref_table or "") == key(name) for c in t.constraints.values())
        ]
        return [self.schema.edit(n) for n in found]

    def _truncate(self, op: Operation) -> None:
        self.table(op)

    def _insert(self, op: Operation) -> None:
        self.table(op)

    _update = _delete = _insert

    # ---- columns -------------------------------------------------------------------------------
    def _add_column(self, op: Operation) -> None:
        table = self.table(op)
        if table is None:
            return
        if table.column(op.column) is not None:
            return self.exists(op, "column", op.column, f" on {table.name}")
        nullable = op.nullable is not False
        table.columns[key(op.column)] = Column(
            op.column, ColumnType.parse(op.new_type or "", self.schema.dialect), nullable, op.default
        )

    def _drop_column(self, op: Operation) -> None:
        table = self.table(op)
        if table is None or not self.columns(op, table, [op.column]):
            return
        name = key(op.column)
        for other in self._referencing(table.name):
            for constraint in list(other.constraints.values()):
                if (
                    other is not table
                    and name in map(key, constraint.ref_columns)
                    and key(constraint.ref_table or "") == key(table.name)
                ):
                    if not op.cascade:
                        self.report(
                            op,
                            "schema-still-referenced",
                            "error",
                            "column still referenced",
                            f"{table.name}.{op.column} is referenced by foreign key {other.name}."
                            f"{constraint.name}: DROP COLUMN fails without CASCADE.",
                            "Drop the foreign key first.",
                        )
                    other.constraints.pop(key(constraint.name))
        table.columns.pop(name, None)
        # The server drops indexes and constraints on the column along with it.
        table.indexes = {n: i for n, i in table.indexes.items() if name not in map(key, i.columns)}
        table.constraints = {n: c for n, c in table.constraints.items() if name not in map(key, c.columns)}

    def _rename_column(self, op: Operation) -> None:
        table = self.table(op)
        if table is None or not self.columns(op, table, [op.column]) or not op.new_name:
            return
        if table.column(op.new_name) is not None and key(op.new_name) != key(op.column):
            return self.exists(op, "column", op.new_name, f" on {table.name}")
        column = table.columns.pop(key(op.column))
        column.name = op.new_name
        table.columns[key(op.new_name)] = column
        rename = {key(op.column): op.new_name}
        for item in [*table.indexes.values(), *table.constraints.values()]:
            item.columns = tuple(rename.get(key(c), c) for c in item.columns)
        for other in self._referencing(table.name):
            for constraint in other.constraints.values():
                if key(constraint.ref_table or "") == key(table.name):
                    constraint.ref_columns = tuple(rename.get(key(c), c) for c in constraint.ref_columns)

    def _alter_column_type(self, op: Operation) -> None:
        table = self.table(op)
        if table is None or not self.columns(op, table, [op.column]) or not op.new_type:
            return
        column = table.column(op.column)
        new = ColumnType.parse(op.new_type, self.schema.dialect)
        problem = type_change_problem(column.type, new, self.schema.dialect, using=bool(op.using))
        if problem:
            self.report(
                op,
                "schema-incompatible-type",
                problem[0],
                "incompatible type change",
                problem[1],
                "Convert explicitly (USING ...), or add a new column, backfill it and swap.",
            )
        column.type = new
        if op.nullable is not None:
            column.nullable = op.nullable
        if op.new_name and key(op.new_name) != key(op.column):
            return  # MySQL CHANGE: the rename follows as its own operation
        self._check_foreign_keys_of(op, table, column)

    def _check_foreign_keys_of(self, op: Operation, table: Table, column: Column) -> None:
        """After a type change, every foreign key from or to the column must still match."""
        for other in self.schema.foreign_key_holders():
            for constraint in other.constraints.values():
                if constraint.kind != "foreign_key":
                    continue
                pairs = list(zip(constraint.columns, constraint.ref_columns))
                for local, remote in pairs:
                    if other is table and key(local) == key(column.name):
                        self._fk_type(op, other, local, constraint.ref_table, remote, judge_later=True)
                    elif key(constraint.ref_table or "") == key(table.name) and key(remote) == key(column.name):
                        self._fk_type(op, other, local, table.name, remote, judge_later=True)

    def _judge_mismatched(self) -> None:
        pending, self.mismatched = self.mismatched, {}
        for (table_name, column, target_name, ref_column), op in pending.items():
            table = self.schema.table(table_name)
            if table is not None and any(
                key(c.ref_table or "") == key(target_name) for c in table.constraints.values()
            ):
                self._fk_type(op, table, column, target_name, ref_column)

    def _set_not_null(self, op: Operation) -> None:
        table = self.table(op)
        if table is not None and self.columns(op, table, [op.column]):
            table.column(op.column).nullable = False

    def _drop_not_null(self, op: Operation) -> None:
        table = self.table(op)
        if table is not None and self.columns(op, table, [op.column]):
            table.column(op.column).nullable = True

    def _set_default(self, op: Operation) -> None:
        table = self.table(op)
        if table is not None and self.columns(op, table, [op.column]):
            table.column(op.column).default = op.default

    def _drop_default(self, op: Operation) -> None:
        table = self.table(op)
        if table is not None and self.columns(op, table, [op.column]):
            table.column(op.column).default = None

    # ---- indexes and constraints -----------------------------------------------------------
    def _create_index(self, op: Operation) -> None:
        table = self.table(op)
        if table is None:
            return
        name = op.index_name or self._generated_name(table, op.columns, "idx")
        clash = self.schema.index_owner(name, table.name) or (
            self.schema.naming.index_names == "schema" and self.schema.relation_exists(name) and name
        )
        clash = clash and not self.unknown(name, clash)
        if clash and op.if_not_exists and self.schema.dialect != "postgres":
            return  # MySQL and SQLite look for the name first: skipped, even on columns that do not exist
        if not self.columns(op, table, op.columns):
            return
        if clash:
            if not op.if_not_exists:
                self.report(
                    op,
                    "schema-duplicate-name",
                    "error",
                    "duplicate index name",
                    f"An index or relation named {name} already exists ({clash}): the statement fails.",
                    "Give the index another name.",
                )
            return
        table.indexes[key(name)] = Index(name, table.name, tuple(op.columns), op.unique)
        self.schema.note_index(name, table.name)
        self.defined(name)

    def _drop_index(self, op: Operation) -> None:
        table = self.schema.edit(op.table) if op.table else None
        name = op.index_name or ""
        if table is None or key(name) not in table.indexes:
            return self.missing(op, "index", name, table=op.table)
        del table.indexes[key(name)]
        table.constraints.pop(key(name), None)  # a UNIQUE constraint's index (MySQL DROP INDEX)

    def _add_constraint(self, op: Operation) -> None:
        table = self.table(op)
        if table is None or op.constraint_type is None or op.constraint_type == "exclude":
            return
        if op.constraint_type == "check":
            return self._add_named(
                op,
                table,
                Constraint(
                    op.constraint_name or self._generated_name(table, op.columns, "check"),
                    table.name,
                    "check",
                    definition=op.check,
                    valid=not op.not_valid,
                ),
            )
        if op.detail == "using index":
            index = table.indexes.get(key(op.index_name or ""))
            if index is None:
                return self.missing(op, "index", op.index_name or "", table=table.name)
            return self._add_key(op, table, op.constraint_type, list(index.columns), op.constraint_name)
        if not self.columns(op, table, op.columns):
            return
        if op.constraint_type == "foreign_key":
            return self._add_foreign_key(op, table)
        self._add_key(op, table, op.constraint_type, op.columns, op.constraint_name or op.index_name)

    def _add_key(self, op: Operation, table: Table, kind: str, columns: list[str], name: str | None) -> None:
        if kind == "primary_key" and table.primary_columns() and not self.unknown(table.name):
            return self.exists(op, "primary key", table.name)
        primary = kind == "primary_key"
        name = name or self._generated_name(table, columns, "pkey" if primary else "key")
        if primary and self.schema.naming.generated == "mysql":
            name = "PRIMARY"  # MySQL ignores a primary key's name
        if self._add_named(op, table, Constraint(name, table.name, kind, tuple(columns))):
            if primary and self.schema.dialect == "sqlite" and _sqlite_rowid(op.statement, columns):
                return  # the rowid itself: SQLite makes no index for it
            index = name if self.schema.naming.constraint_names != "none" else self._sqlite_autoindex(table)
            table.indexes[key(index)] = Index(index, table.name, tuple(columns), True, primary)
            self.schema.note_index(index, table.name)

    @staticmethod
    def _sqlite_autoindex(table: Table) -> str:
        """SQLite names a key's index itself, never after the constraint."""
        prefix = f"sqlite_autoindex_{table.name}_"
        return f"{prefix}{sum(key(name).startswith(key(prefix)) for name in table.indexes) + 1}"

    def _add_named(self, op: Operation, table: Table, constraint: Constraint) -> bool:
        owner = self.schema.constraint_owner(constraint.name, table.name, constraint.kind)
        if owner is not None and self.unknown(constraint.name, owner):
            owner = None  # a statement the analysis cannot read may have dropped it: the new one replaces it
        if owner is not None:
            self.report(
                op,
                "schema-duplicate-name",
                "error",
                "duplicate constraint name",
                f"A constraint or index named {constraint.name} already exists (on {owner}): the statement fails.",
                "Give the constraint another name.",
            )
            return False
        table.constraints[key(constraint.name)] = constraint
        self.defined(constraint.name)
        if constraint.kind == "foreign_key":
            self.schema.note_foreign_key(table.name)
        return True

    def _add_foreign_key(self, op: Operation, table: Table) -> None:
        target = self.schema.table(op.ref_table or "")
        # A foreign key checked only when rows are written (SQLite): the table it references may come later.
        later = target is None and capabilities(self.schema.dialect).foreign_keys_by_name and bool(op.ref_table)
        if target is None and not later:
            if op.ref_table and not op.if_exists and not self.unknown(op.ref_table):
                self.report(
                    op,
                    "schema-fk-target",
                    "error",
                    "foreign key target missing",
                    f"The referenced table {op.ref_table} does not exist at this point of the plan.",
                    "Create the referenced table first (an earlier migration), or fix the name.",
                )
            return
        ref_columns = op.ref_columns or (list(target.primary_columns()) if target else [])
        if target is not None and not (self.unknown(target.name) or target.view):  # else its columns are not known
            if not self._fk_target_ok(op, target, ref_columns):
                return
            for local, remote in zip(op.columns, ref_columns):
                self._fk_type(op, table, local, target.name, remote)
        name = op.constraint_name or self._generated_name(table, op.columns, "fkey")
        added = self._add_named(
            op,
            table,
            Constraint(
                name,
                table.name,
                "foreign_key",
                tuple(op.columns),
                target.name if target else op.ref_table,
                tuple(ref_columns),
                valid=not op.not_valid,
            ),
        )
        if added and self.schema.naming.foreign_key_index and not table.has_index_leading_with(tuple(op.columns)):
            table.indexes[key(name)] = Index(name, table.name, tuple(op.columns))
            self.schema.note_index(name, table.name)

    def _fk_target_ok(self, op: Operation, target: Table, ref_columns: list[str]) -> bool:
        missing = [c for c in ref_columns if target.column(c) is None]
        if missing or not ref_columns:
            self.report(
                op,
                "schema-fk-target",
                "error",
                "foreign key target missing",
                f"{target.name} has no column {', '.join(missing) or '(no primary key to reference)'}.",
                "Reference existing columns of the target table.",
            )
            return False
        if not target.is_unique_on(tuple(ref_columns)) and not self.opaque:
            self.report(
                op,
                "schema-fk-target",
                "error",
                "foreign key target not unique",
                f"{target.name}({', '.join(ref_columns)}) has no primary key or unique constraint: "
                "the server refuses the foreign key.",
                "Reference the primary key, or add a unique constraint on those columns first.",
            )
            return False
        return True

    def _fk_type(
        self,
        op: Operation,
        table: Table,
        column: str,
        target_name: str | None,
        ref_column: str,
        judge_later: bool = False,
    ) -> None:
        target = self.schema.table(target_name or "")
        local, remote = table.column(column), target.column(ref_column) if target else None
        if local is None or remote is None:
            return
        problem = foreign_key_problem(local.type, remote.type, self.schema.dialect)
        if problem and judge_later and problem[0] == "warning":
            self.mismatched.setdefault((table.name, column, target.name, ref_column), op)
        elif problem:
            self.report(
                op,
                "schema-fk-type",
                problem[0],
                "foreign key type mismatch",
                f"{table.name}.{local.name} ({local.type.normalized}) references {target.name}.{remote.name} "
                f"({remote.type.normalized}): {problem[1]}.",
                "Use the same type on both sides.",
                table=table.name,
                column=local.name,
            )

    def _drop_constraint(self, op: Operation) -> None:
        table = self.table(op)
        if table is None:
            return
        if op.constraint_type == "primary_key" and not op.constraint_name:
            found = next((c for c in table.constraints.values() if c.kind == "primary_key"), None)
        else:
            found = table.constraints.get(key(op.constraint_name or ""))
        if found is None:
            return self.missing(op, "constraint", op.constraint_name or "primary key", table=table.name)
        del table.constraints[key(found.name)]
        if found.kind in ("primary_key", "unique"):
            table.indexes.pop(key(found.name), None)

    def _validate_constraint(self, op: Operation) -> None:
        table = self.table(op)
        if table is None:
            return
        found = table.constraints.get(key(op.constraint_name or ""))
        if found is None:
            return self.missing(op, "constraint", op.constraint_name or "", table=table.name)
        found.valid = True

    def _generated_name(self, table: Table, columns: list[str], suffix: str) -> str:
        def taken(name: str) -> bool:
            return bool(self.schema.constraint_owner(name, table.name, "unique"))  # an index of that name too

        return self.schema.naming.generated_name(table.name, columns, suffix, taken)
