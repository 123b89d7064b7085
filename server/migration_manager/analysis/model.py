"""What analysis speaks: the operations a statement performs, and the findings about them.

`Operation` is parsed from SQL text alone (analysis/operations/parse.py); it never looks at a database.
Each kind of operation is a subclass in analysis/operations/<kind>.py that carries its behaviour.
`Finding` is what a rule says about an operation, with counts probed from the live tables.
Both are stable interfaces: simulate, locks, impact, backups and rollback read them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from ..archive import ArchiveStep
    from .schema import Column, Snapshot, Table
    from .simulate.replay import Replay

Severity = Literal["info", "warning", "danger", "error"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "danger": 2, "error": 3}

# Every kind an Operation can have. DDL on a table, then indexes, then DML, then session settings.
OperationKind = Literal[
    "create_table",
    "drop_table",
    "rename_table",
    "truncate",
    "add_column",
    "drop_column",
    "rename_column",
    "alter_column_type",
    "set_not_null",
    "drop_not_null",
    "set_default",
    "drop_default",
    "add_constraint",
    "drop_constraint",
    "validate_constraint",
    "create_index",
    "drop_index",
    "create_view",
    "drop_view",  # views and materialized views
    "insert",
    "update",
    "delete",
    "set_lock_timeout",
    "set_statement_timeout",
    "set",
    "other",
]
ConstraintType = Literal["unique", "primary_key", "foreign_key", "check", "exclude"]

# After a crash, what the live schema says of an operation: done, not done, or no telling.
Verdict = Literal["completed", "not-run", "unknown"]
Effect = tuple[Verdict, str]  # the verdict and its evidence, in words


class Loss(NamedTuple):
    """What running an operation destroys, as the rollback plan shows and counts it."""

    what: str  # e.g. "drops table {table}", formatted with the operation's fields
    unit: str = "rows"  # what the count counts; in rows, the table's catalog row count stands in for a count
    some: bool = False  # only some rows (a DELETE): a table created earlier in the run may still lose rows


class Destroyed(NamedTuple):
    """What an operation destroys of a table: all of it, one column, or values of one column (a type change)."""

    what: Literal["table", "column", "values"]
    column: Column | None = None


class ColumnSpec(BaseModel):
    """A column as written in CREATE TABLE / ADD COLUMN."""

    name: str
    type: str = Field(description="the type as written, e.g. varchar(100)")
    nullable: bool = True
    default: str | None = Field(None, description="DEFAULT expression as written")
    primary_key: bool = False
    unique: bool = False
    key_name: str | None = Field(None, description="the name written for an inline PRIMARY KEY / UNIQUE (CONSTRAINT x)")


class Operation(BaseModel):
    """One thing a statement does. An ALTER TABLE with three actions gives three operations.

    `Operation(kind="add_column", ...)` builds the kind's own class (analysis/operations/add_column.py), which
    overrides the behaviour below that applies to it; these defaults are those of an operation that changes
    nothing the analysis follows (a SET, say)."""

    # A kind's validator is built when the kind is first made, not with its class: Operation itself and the kinds
    # that share a module with the one a run meets are never made by most runs (~2.5 ms each to build). Frozen: the
    # parser keeps what it read and hands the same operations to every caller (parse._placed); a change is a copy.
    model_config = ConfigDict(defer_build=True, frozen=True)

    kind: OperationKind
    statement_index: int = Field(1, description="1-based position of the statement in its script")
    statement: str = Field("", description="the statement's SQL text")
    table: str | None = Field(None, description="target table, unqualified (schema in `schema`)")
    schema_name: str | None = None
    column: str | None = None
    columns: list[str] = Field(
        default_factory=list, description="index/constraint columns, in order; update: the columns it sets"
    )
    new_name: str | None = Field(None, description="rename_table / rename_column target; a MySQL CHANGE's new name")
    old_type: str | None = Field(None, description="set by analysis from the live schema; never by the parser")
    new_type: str | None = Field(None, description="alter_column_type / add_column type as written")
    using: str | None = Field(None, description="PostgreSQL ALTER ... TYPE ... USING expression")
    nullable: bool | None = Field(None, description="add_column / MySQL MODIFY: False when NOT NULL is written")
    default: str | None = Field(None, description="DEFAULT expression (add_column, set_default)")
    default_volatile: bool | None = Field(None, description="True when the DEFAULT calls a volatile function")
    index_name: str | None = None
    constraint_name: str | None = None
    constraint_type: ConstraintType | None = None
    unique: bool = False
    concurrently: bool = False
    not_valid: bool = False
    expression_index: bool = Field(False, description="an index on expressions, not plain columns")
    expressions: list[str] = Field(default_factory=list, description="create_index: every key as SQL, in order")
    where: str | None = Field(None, description="partial-index predicate, or the WHERE of UPDATE/DELETE (SQL)")
    check: str | None = Field(None, description="CHECK expression (SQL, dialect of the statement)")
    ref_table: str | None = None
    ref_columns: list[str] = Field(default_factory=list)
    if_exists: bool = False
    if_not_exists: bool = False
    cascade: bool = False
    algorithm: str | None = Field(None, description="MySQL ALGORITHM= clause (INSTANT/INPLACE/COPY)")
    lock: str | None = Field(None, description="MySQL LOCK= clause (NONE/SHARED/EXCLUSIVE)")
    value: str | None = Field(None, description="SET statements: the value as written")
    detail: str | None = Field(None, description="index method or MySQL index kind (gin, FULLTEXT), 'using index'")
    column_specs: list[ColumnSpec] = Field(default_factory=list, description="create_table columns")
    constraints: list[Operation] = Field(
        default_factory=list, description="create_table inline constraints (kind add_constraint)"
    )

    @property
    def is_ddl(self) -> bool:
        return self.kind not in ("insert", "update", "delete", "set_lock_timeout", "set_statement_timeout", "set")

    destructive: ClassVar[bool] = False  # may destroy data the archive keeps (see `destroys`)
    recreating: ClassVar[bool] = False  # may re-create what an archive holds (see `recreates`)
    loss: ClassVar[Loss | None] = None  # the data it destroys, for the rollback plan
    session_only: ClassVar[bool] = False  # changes the session (SET), no table
    table_level: ClassVar[bool] = False  # changes a table as a whole (create, drop, rename, truncate)
    unread: ClassVar[bool] = False  # a statement no parser reads: it may change anything

    def __new__(cls, *args, **fields):
        if cls is Operation:
            cls = _kind_class(fields.get("kind"))
        return super().__new__(cls)

    @property
    def target(self) -> str:
        """`table.column` or `table`, for messages."""
        return f"{self.table}.{self.column}" if self.column else (self.table or "?")

    # ---- behaviour ---------------------------------------------------------------------------------
    def simulate(self, replay: Replay) -> None:
        """Change the replayed schema as the server would, or report why the server refuses the statement."""

    def effect_in(self, schema: Snapshot) -> Effect:
        """After a crash: does the live `schema` show this operation done, not done, or can it not tell?"""
        table = schema.table(self.table) if self.table else None
        if table is None:
            return "unknown", f"table {self.table} is not in the schema"
        return self.effect_on(table, schema)

    def effect_on(self, table: Table, schema: Snapshot) -> Effect:
        """`effect_in`, once the operation's table is found in the schema."""
        return "unknown", f"{self.kind.replace('_', ' ')} leaves no trace in the schema"

    def destroys(self, table: Table, dialect: str) -> Destroyed | None:
        """What of `table` (as it is before the statement runs) this operation destroys, if anything."""
        return None

    def recreates(self, archived: ArchiveStep) -> bool:
        """Does this operation re-create what `archived` holds (a DOWN putting back what its UP destroyed)?"""
        return False

    def tables(self) -> list[str]:
        """The tables this operation changes (for the backup's scope)."""
        return [self.table] if self.table else []

    def new_table(self, created: set[str]) -> str | None:
        """The table that exists after this operation only because the run made it (`created`: those made so far)."""
        return None

    def located(self, index_table: Callable[[str], str | None]) -> Operation:
        """This operation with its table filled in where its SQL names only an index (`index_table` finds it)."""
        return self

    def resolved(self, schema: Snapshot) -> Operation:
        """This operation with what its SQL leaves out but `schema` knows (a DROP INDEX's table, a type's old type)."""
        return self


@cache
def _kind_class(kind: str | None) -> type[Operation]:
    """The class of a kind of operation (analysis/operations.kind_class, imported on first use: the service and the
    CLI start without the SQL parser, which that package loads)."""
    from .operations import kind_class

    return kind_class(kind)


def presence(present: bool, wanted: bool, what: str) -> Effect:
    """The verdict on an operation that makes `what` exist (`wanted`) or go, from whether it is `present`."""
    if present == wanted:
        return "completed", f"{what} {'exists' if present else 'is gone'}"
    return "not-run", f"{what} {'still exists' if present else 'does not exist'}"


class Finding(BaseModel):
    """What a rule found about one operation, with the numbers from the live tables."""

    rule: str = Field(description="rule id; skill_resources/rules-catalog.md explains each")
    severity: Severity
    title: str
    message: str = Field(description="the consequence in one sentence, with the real numbers")
    migration: str | None = Field(None, description="version of the migration the statement belongs to")
    direction: Literal["up", "down"] = "up"
    statement_index: int | None = None
    statement: str | None = None
    table: str | None = None
    column: str | None = None
    rows_total: int | None = Field(None, description="rows in the table (exact when probed, else estimate)")
    rows_affected: int | None = Field(None, description="rows the rule counted: lost, truncated, blocking...")
    counts: dict[str, int] = Field(default_factory=dict, description="every figure the probe measured, by name")
    exact: bool = Field(True, description="False when counts come from a sample or were not measured")
    confidence: str | None = Field(None, description="how sure a sampled count is, in words")
    probe_sql: str | None = Field(None, description="the query that measured it (run it to see the rows)")
    recommendation: str = ""
    safe_rewrite: str | None = Field(None, description="SQL that does the same change safely, when one exists")
    server_check: Literal["confirmed", "accepted", "not-confirmed"] | None = Field(
        None,
        description="a schema-simulation error replayed on a schema-only scratch copy before it blocks: "
        "confirmed (the server raised it), accepted (the server ran it: demoted to a warning), not-confirmed "
        "(the replay could not run); server_message says what the server said or why",
    )
    server_message: str | None = None

    @property
    def blocks(self) -> bool:
        """danger and error stop the apply pipeline for a human's approval."""
        return SEVERITY_ORDER[self.severity] >= SEVERITY_ORDER["danger"]
