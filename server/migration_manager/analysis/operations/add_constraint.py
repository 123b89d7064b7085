"""ADD [CONSTRAINT name] PRIMARY KEY / UNIQUE / FOREIGN KEY / CHECK / EXCLUDE, also inline in CREATE TABLE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..model import Effect, Operation, presence
from ..schema import Constraint, Index, Snapshot, Table, key

if TYPE_CHECKING:
    from ..simulate.replay import Replay


class AddConstraint(Operation):
    """Adds a constraint (`constraint_type`); a key adds its index."""

    kind: Literal["add_constraint"]

    def simulate(self, replay: Replay) -> None:
        table = replay.table(self)
        if table is None or self.constraint_type is None or self.constraint_type == "exclude":
            return
        if self.constraint_type == "check":
            return replay.add_named(
                self,
                table,
                Constraint(
                    self.constraint_name or replay.generated_name(table, self.columns, "check"),
                    table.name,
                    "check",
                    definition=self.check,
                    valid=not self.not_valid,
                ),
            )
        if self.detail == "using index":
            index = table.indexes.get(key(self.index_name or ""))
            if index is None:
                return replay.missing(self, "index", self.index_name or "", table=table.name)
            return replay.add_key(self, table, self.constraint_type, list(index.columns), self.constraint_name)
        if not replay.columns(self, table, self.columns):
            return
        if self.constraint_type == "foreign_key":
            return self._add_foreign_key(replay, table)
        replay.add_key(self, table, self.constraint_type, self.columns, self.constraint_name or self.index_name)

    def _add_foreign_key(self, replay: Replay, table: Table) -> None:
        target = replay.schema.table(self.ref_table or "")
        # A foreign key checked only when rows are written (SQLite): the table it references may come later.
        later = target is None and replay.foreign_keys_by_name and bool(self.ref_table)
        if target is None and not later:
            if self.ref_table and not self.if_exists and not replay.unknown(self.ref_table):
                replay.report(
                    self,
                    "schema-fk-target",
                    "error",
                    "foreign key target missing",
                    f"The referenced table {self.ref_table} does not exist at this point of the plan.",
                    "Create the referenced table first (an earlier migration), or fix the name.",
                )
            return
        ref_columns = self.ref_columns or (list(target.primary_columns()) if target else [])
        if target is not None and not (replay.unknown(target.name) or target.view):  # else its columns are not known
            if not self._fk_target_ok(replay, target, ref_columns):
                return
            for local, remote in zip(self.columns, ref_columns):
                replay.fk_type(self, table, local, target.name, remote)
        name = self.constraint_name or replay.generated_name(table, self.columns, "fkey")
        added = replay.add_named(
            self,
            table,
            Constraint(
                name,
                table.name,
                "foreign_key",
                tuple(self.columns),
                target.name if target else self.ref_table,
                tuple(ref_columns),
                valid=not self.not_valid,
            ),
        )
        if added and replay.schema.naming.foreign_key_index and not table.has_index_leading_with(tuple(self.columns)):
            table.indexes[key(name)] = Index(name, table.name, tuple(self.columns))
            replay.schema.note_index(name, table.name)

    def _fk_target_ok(self, replay: Replay, target: Table, ref_columns: list[str]) -> bool:
        missing = [c for c in ref_columns if target.column(c) is None]
        if missing or not ref_columns:
            replay.report(
                self,
                "schema-fk-target",
                "error",
                "foreign key target missing",
                f"{target.name} has no column {', '.join(missing) or '(no primary key to reference)'}.",
                "Reference existing columns of the target table.",
            )
            return False
        if not target.is_unique_on(tuple(ref_columns)) and not replay.opaque:
            replay.report(
                self,
                "schema-fk-target",
                "error",
                "foreign key target not unique",
                f"{target.name}({', '.join(ref_columns)}) has no primary key or unique constraint: "
                "the server refuses the foreign key.",
                "Reference the primary key, or add a unique constraint on those columns first.",
            )
            return False
        return True

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        if not self.constraint_name:
            return super().effect_on(table, schema)
        return presence(has_constraint(table, self.constraint_name), True, f"constraint {self.constraint_name}")


def has_constraint(table: Table, name: str) -> bool:
    """A constraint of that name, or a key's index (MySQL lists a UNIQUE constraint as an index)."""
    return key(name) in table.constraints or key(name) in table.indexes
