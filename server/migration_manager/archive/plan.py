"""The archives a statement needs, from what its operations destroy on an `analysis.schema` snapshot
(`Operation.destroys`, `Operation.recreates`), and the SQL that archives and restores (the
database-specific parts in dialects/<db>/archive.py)."""

from __future__ import annotations

from ..analysis.model import Destroyed, Operation
from ..analysis.schema import Snapshot, Table, key
from ..analysis.type_families import may_lose_values
from ..dialects import dialect_part
from . import ArchiveStep, archive_name


def dialect_sql(dialect: str):
    return dialect_part(dialect, "archive")


# ---- what a statement destroys ---------------------------------------------------------------
def archive_steps(ops: list[Operation], snapshot: Snapshot, version: str, direction: str) -> list[ArchiveStep]:
    """The archives to take before the statement whose operations are `ops` runs on `snapshot`."""
    steps = []
    for op in ops:
        if not op.destructive or not op.table or _other_schema(op, snapshot):
            continue
        table = snapshot.table(op.table)
        if table is None or table.view:
            continue  # the statement fails (or IF EXISTS skips it): nothing is destroyed
        destroyed = snapshot.resolve(op).destroys(table, snapshot.dialect)
        if destroyed is not None:
            steps.append(_named(_step(destroyed, table), version, direction, op.statement_index))
    return steps


def _step(destroyed: Destroyed, table: Table) -> ArchiveStep:
    if destroyed.what == "table":
        return ArchiveStep(
            action="archive",
            what="table",
            table=table.name,
            keys=list(key_columns(table)),
            row_columns=[c.name for c in table.columns.values()],
        )
    what, column = destroyed
    keys = key_columns(table, without=column.name)
    old_type = column.type.text if what == "values" else None
    if not keys:
        return ArchiveStep(action="not-archived", what=what, table=table.name, columns=[column.name], old_type=old_type)
    return ArchiveStep(
        action="archive", what=what, table=table.name, columns=[column.name], keys=list(keys), old_type=old_type
    )


def _named(step: ArchiveStep, version: str, direction: str, index: int) -> ArchiveStep:
    step.version, step.direction, step.statement_index = version, direction, index
    if step.action == "archive":
        step.archive_table = archive_name(version, direction, index, step.table, (step.columns or [None])[0])
    return step


def key_columns(table: Table, without: str | None = None) -> tuple[str, ...]:
    """Primary key, else the shortest unique key whose columns are all NOT NULL; never one that
    contains `without` (the column being dropped cannot find its own rows again)."""

    def usable(columns: tuple[str, ...], may_be_null: bool) -> bool:
        found = [table.column(c) for c in columns]
        return (
            bool(columns)
            and all(c is not None and (may_be_null or not c.nullable) for c in found)
            and (without is None or key(without) not in {key(c) for c in columns})
        )

    candidates = [(table.primary_columns(), True)]
    uniques = [i.columns for i in table.indexes.values() if i.unique and not i.primary]
    uniques += [c.columns for c in table.constraints.values() if c.kind == "unique"]
    candidates += [(columns, False) for columns in sorted(uniques, key=len) if "(expression)" not in columns]
    for columns, primary in candidates:
        if usable(columns, primary):  # a primary key is NOT NULL by definition, whatever the catalog says
            return tuple(table.column(c).name for c in columns)
    return ()


def _other_schema(op: Operation, snapshot: Snapshot) -> bool:
    return bool(op.schema_name) and key(op.schema_name) != key(snapshot.name or op.schema_name)


# ---- what a statement re-creates -------------------------------------------------------------
def recreated(ops: list[Operation], archived: ArchiveStep) -> bool:
    """Does one of `ops` re-create what `archived` holds (the column re-added, the table created
    again or renamed into place, the column's type changed back)?"""
    return any(op.recreates(archived) for op in ops)


def restorable(archived: ArchiveStep, snapshot: Snapshot) -> str | None:
    """Why `archived` cannot be put back into the live schema now; None when it can."""
    table = snapshot.table(archived.table)
    if table is None:
        return f"{archived.table} does not exist"
    missing = [c for c in [*archived.keys, *archived.columns] if table.column(c) is None]
    if missing:
        return f"{archived.table} has no column {', '.join(missing)}"
    if archived.what == "values":
        now = table.column(archived.columns[0]).type.text
        if may_lose_values(archived.old_type or "", now, snapshot.dialect):
            return f"{archived.target} is now {now}, which does not hold every archived {archived.old_type} value"
    return None


# ---- SQL -----------------------------------------------------------------------------------------
def create_sql(step: ArchiveStep, dialect: str, in_transaction: bool = True) -> list[str]:
    """The statements that copy what `step` would lose into its archive table (a lock that holds
    writers off until the destructive statement only where that statement runs in the same transaction)."""
    sql = dialect_sql(dialect)
    q = sql.quote
    picked = ", ".join(q(c) for c in [*step.keys, *step.columns]) if step.columns else "*"
    copy = f"CREATE TABLE {q(step.archive_table)} AS SELECT {picked} FROM {q(step.table)}"
    return [*(sql.before_copy(step.table) if in_transaction else []), copy]


def restore_sql(archived: ArchiveStep, table: Table, dialect: str, table_empty: bool) -> list[str]:
    """The statements that put `archived` back into the live `table`: values by key into existing rows
    (UPDATE ... FROM); for a whole-table archive, the rows the table holds already (made by the migration's own
    statements) get their archived values, and the others are inserted where no row holds any of their unique
    keys. The caller drops the archive afterwards."""
    sql = dialect_sql(dialect)
    if archived.what != "table":
        return [sql.update_from(archived.table, archived.archive_table, archived.keys, archived.columns)]
    live = {key(c.name): c.name for c in table.columns.values()}
    columns = [live[key(c)] for c in archived.row_columns if key(c) in live]
    if not archived.keys:  # nothing matches rows: only a table left empty can take them back
        return [sql.insert_select(archived.table, archived.archive_table, columns, [])] if table_empty else []
    values = [c for c in columns if key(c) not in {key(k) for k in archived.keys}]
    statements = (
        []
        if table_empty or not values
        else [sql.update_from(archived.table, archived.archive_table, archived.keys, values)]
    )
    return statements + [
        sql.insert_select(archived.table, archived.archive_table, columns, collision_keys(archived, table))
    ]


def collision_keys(archived: ArchiveStep, table: Table) -> list[list[str]]:
    """The archive's key, then every other primary or unique key of the live table (not on expressions) whose
    columns the archived rows hold: an archived row whose values of one of them are taken is not inserted."""
    held, own = {key(c) for c in archived.row_columns}, {key(c) for c in archived.keys}
    found = [
        table.primary_columns(),
        *(i.columns for i in table.indexes.values() if i.unique),
        *(c.columns for c in table.constraints.values() if c.kind == "unique"),
    ]
    others = [
        list(k)
        for k in dict.fromkeys(found)
        if k and "(expression)" not in k and {key(c) for c in k} != own and all(key(c) in held for c in k)
    ]
    return [archived.keys, *others]


def drop_sql(archived: ArchiveStep, dialect: str) -> str:
    return f"DROP TABLE IF EXISTS {dialect_sql(dialect).quote(archived.archive_table)}"
