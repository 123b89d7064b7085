"""What statements do, as `Operation`s: `parse` reads SQL text into them (sqlglot, pglast), and each kind of
operation is a class in a module of its own that carries its behaviour: how it changes a schema snapshot
(`simulate`), whether the live schema shows it done after a crash (`effect_in`), what it destroys and what
re-creates it (`destroys`, `recreates`). `Operation(kind=...)` builds the kind's class (`kind_class`)."""

from __future__ import annotations

import importlib

from ..model import Operation
from .parse import read_ahead, script_operations, statement_operations

# Where each kind's class is: (module of this package, class). A module is imported when its kind is first made,
# not with the package: each class re-collects the 35 fields it inherits from Operation (pydantic, ~1 ms a class)
# and a run meets a few of the 26 kinds.
KINDS: dict[str, tuple[str, str]] = {
    "create_table": ("create_table", "CreateTable"),
    "drop_table": ("drop_table", "DropTable"),
    "rename_table": ("rename_table", "RenameTable"),
    "truncate": ("truncate", "Truncate"),
    "add_column": ("add_column", "AddColumn"),
    "drop_column": ("drop_column", "DropColumn"),
    "rename_column": ("rename_column", "RenameColumn"),
    "alter_column_type": ("alter_column_type", "AlterColumnType"),
    "set_not_null": ("not_null", "SetNotNull"),
    "drop_not_null": ("not_null", "DropNotNull"),
    "set_default": ("default", "SetDefault"),
    "drop_default": ("default", "DropDefault"),
    "add_constraint": ("add_constraint", "AddConstraint"),
    "drop_constraint": ("drop_constraint", "DropConstraint"),
    "validate_constraint": ("validate_constraint", "ValidateConstraint"),
    "create_index": ("create_index", "CreateIndex"),
    "drop_index": ("drop_index", "DropIndex"),
    "create_view": ("create_view", "CreateView"),
    "drop_view": ("drop_view", "DropView"),
    "insert": ("rows", "Insert"),
    "update": ("rows", "Update"),
    "delete": ("rows", "Delete"),
    "set_lock_timeout": ("settings", "SetLockTimeout"),
    "set_statement_timeout": ("settings", "SetStatementTimeout"),
    "set": ("settings", "Set"),
    "other": ("other", "Other"),
}


def kind_class(kind: str | None) -> type[Operation]:
    """The class of a kind of operation; Operation itself for an unknown kind (its validation then refuses it)."""
    if kind not in KINDS:
        return Operation
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["KINDS", "kind_class", "read_ahead", "script_operations", "statement_operations"]
