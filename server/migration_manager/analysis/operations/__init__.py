"""What statements do, as `Operation`s: `parse` reads SQL text into them (sqlglot, pglast), and each kind of
operation is a class in a module of its own that carries its behaviour: how it changes a schema snapshot
(`simulate`), whether the live schema shows it done after a crash (`effect_in`), what it destroys and what
re-creates it (`destroys`, `recreates`). `Operation(kind=...)` builds the kind's class (`KINDS`)."""

from __future__ import annotations

from typing import get_args

from .add_column import AddColumn
from .add_constraint import AddConstraint
from .alter_column_type import AlterColumnType
from .create_index import CreateIndex
from .create_table import CreateTable
from .create_view import CreateView
from .default import DropDefault, SetDefault
from .drop_column import DropColumn
from .drop_constraint import DropConstraint
from .drop_index import DropIndex
from .drop_table import DropTable
from .drop_view import DropView
from .not_null import DropNotNull, SetNotNull
from .other import Other
from .parse import script_operations, statement_operations
from .rename_column import RenameColumn
from .rename_table import RenameTable
from .rows import Delete, Insert, Update
from .settings import Set, SetLockTimeout, SetStatementTimeout
from .truncate import Truncate
from .validate_constraint import ValidateConstraint

KINDS = {
    get_args(cls.model_fields["kind"].annotation)[0]: cls
    for cls in (
        CreateTable,
        DropTable,
        RenameTable,
        Truncate,
        AddColumn,
        DropColumn,
        RenameColumn,
        AlterColumnType,
        SetNotNull,
        DropNotNull,
        SetDefault,
        DropDefault,
        AddConstraint,
        DropConstraint,
        ValidateConstraint,
        CreateIndex,
        DropIndex,
        CreateView,
        DropView,
        Insert,
        Update,
        Delete,
        SetLockTimeout,
        SetStatementTimeout,
        Set,
        Other,
    )
}

__all__ = ["KINDS", "script_operations", "statement_operations"]
