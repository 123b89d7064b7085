"""Replay operations on a schema snapshot, the way the server would run them, and say what the
server would refuse (missing table/column, duplicate name, FK target or type, type change).

Each kind of operation knows what it does to the snapshot (`Operation.simulate`, analysis/operations/);
`Replay` holds the snapshot, the findings and what several kinds share (lookups, keys, foreign keys).

Statements the parser cannot read (`other`: CALL, DO blocks, functions and procedures, dynamic SQL)
may create or drop anything: the names they mention are "uncertain", and the replay says nothing
about an uncertain object (neither missing nor already there) until a later statement defines it
again. After a Python migration, a missing object is a warning, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ... import dialects
from ..model import Finding, Operation, Severity
from ..schema import Constraint, Index, Snapshot, Table, key
from .type_rules import foreign_key_problem


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
            self.schema.resolve(op).simulate(self)
        self._judge_mismatched()

    def run_python(self) -> None:
        self.opaque = True

    def _judge_mismatched(self) -> None:
        pending, self.mismatched = self.mismatched, {}
        for (table_name, column, target_name, ref_column), op in pending.items():
            table = self.schema.table(table_name)
            if table is not None and any(
                key(c.ref_table or "") == key(target_name) for c in table.constraints.values()
            ):
                self.fk_type(op, table, column, target_name, ref_column)

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

    # ---- what several kinds of operation do --------------------------------------------------------
    @property
    def foreign_keys_by_name(self) -> bool:
        """A foreign key names its table and is checked when rows are written, not at DDL time (SQLite)."""
        return dialects.get(self.schema.dialect).foreign_keys_by_name

    def referencing(self, name: str) -> list[Table]:
        """Tables with a foreign key to `name`, each a private copy ready to change."""
        found = [
            t.name
            for t in self.schema.foreign_key_holders()
            if any(c.kind == "foreign_key" and key(c.ref_table or "") == key(name) for c in t.constraints.values())
        ]
        return [self.schema.edit(n) for n in found]

    def add_key(self, op: Operation, table: Table, kind: str, columns: list[str], name: str | None) -> None:
        """A primary key or unique constraint on `table`, and its index."""
        if kind == "primary_key" and table.primary_columns() and not self.unknown(table.name):
            return self.exists(op, "primary key", table.name)
        primary = kind == "primary_key"
        name = name or self.generated_name(table, columns, "pkey" if primary else "key")
        if primary and self.schema.naming.primary_key_name:
            name = self.schema.naming.primary_key_name  # MySQL ignores a primary key's name
        if self.add_named(op, table, Constraint(name, table.name, kind, tuple(columns))):
            if primary and self.schema.naming.integer_key_is_rowid and _sqlite_rowid(op.statement, columns):
                return  # the rowid itself: SQLite makes no index for it
            index = self._autoindex(table) if self.schema.naming.autoindex_prefix else name
            table.indexes[key(index)] = Index(index, table.name, tuple(columns), True, primary)
            self.schema.note_index(index, table.name)

    def _autoindex(self, table: Table) -> str:
        """SQLite names a key's index itself, never after the constraint."""
        prefix = f"{self.schema.naming.autoindex_prefix}{table.name}_"
        return f"{prefix}{sum(key(name).startswith(key(prefix)) for name in table.indexes) + 1}"

    def add_named(self, op: Operation, table: Table, constraint: Constraint) -> bool:
        """Add `constraint` unless its name is taken (reported): True when added."""
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

    def fk_type(
        self,
        op: Operation,
        table: Table,
        column: str,
        target_name: str | None,
        ref_column: str,
        judge_later: bool = False,
    ) -> None:
        """Report a foreign key whose two sides' types the server refuses (or warns about)."""
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

    def generated_name(self, table: Table, columns: list[str], suffix: str) -> str:
        def taken(name: str) -> bool:
            return bool(self.schema.constraint_owner(name, table.name, "unique"))  # an index of that name too

        return self.schema.naming.generated_name(table.name, columns, suffix, taken)
