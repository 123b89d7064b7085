"""Conflicts: a pending migration older than migrations that already ran or run before it (it was
written on another branch) and that touches the same objects as one of them; and, where git knows,
a pending migration written on a different branch from another pending or applied one that touches
the same objects (both authors wrote theirs without seeing the other's).

Objects are compared at the finest level the operations name: a column, an index, a constraint;
a table-level change (create, drop, rename, truncate) touches everything in its table. An index or
constraint also *uses* its columns (and a foreign key the referenced ones): two migrations conflict
when one changes an object the other changes or uses (two new indexes on one column do not).
"""

from __future__ import annotations

from ...migrations.branches import Lineage
from ...migrations.formats import version_key
from ...migrations.model import Migration
from ...migrations.plan import Plan
from ..model import Finding, Operation
from ..operations import script_operations
from ..schema import key

Touch = tuple[str, str, bool]  # (table, object or "*", True when it changes the object, False when it uses it)


def touched(migration: Migration, dialect: str) -> set[Touch]:
    """What the UP changes or uses, per table; object "*" for the whole table."""
    if migration.up.is_python:
        return set()
    found = set()
    for op in script_operations(migration.up.statements, dialect):
        if op.table and op.is_ddl:
            found |= {(key(table), name, True) for table in op.tables() for name in _objects(op)}
            found |= _uses(op)
    return found


def _objects(op: Operation) -> list[str]:
    if op.table_level:
        return ["*"]
    if op.column:
        return [f"column {key(op.column)}"] + ([f"column {key(op.new_name)}"] if op.new_name else [])
    if op.index_name or op.constraint_name:
        return [f"{'index' if op.index_name else 'constraint'} {key(op.index_name or op.constraint_name)}"]
    return [f"column {key(c)}" for c in op.columns] or ["*"]


def _uses(op: Operation) -> set[Touch]:
    if op.column or not (op.index_name or op.constraint_name):
        return set()
    used = {(key(op.table), f"column {key(c)}", False) for c in op.columns}
    if op.ref_table:
        used |= {(key(op.ref_table), f"column {key(c)}", False) for c in op.ref_columns}
    return used


def overlap(first: set[Touch], second: set[Touch]) -> list[str]:
    """What one changes and the other changes or uses: `table.object`, or `table` for a whole-table change."""
    shared = set()
    for table, thing, changes in first:
        for other_table, other_thing, other_changes in second:
            if (
                table == other_table
                and (changes or other_changes)
                and (thing == other_thing or "*" in (thing, other_thing))
            ):
                shared.add(table if "*" in (thing, other_thing) else f"{table}.{thing}")
    return sorted(shared)


def conflict_findings(plan: Plan, dialect: str) -> list[Finding]:
    return _out_of_order(plan, dialect) + _branches(plan, dialect)


def _out_of_order(plan: Plan, dialect: str) -> list[Finding]:
    findings = []
    for migration in plan.out_of_order:
        mine = touched(migration, dialect)
        newer = [
            (row.version, plan.file_for(row.version), "applied")
            for row in plan.applied
            if version_key(row.version) > version_key(migration.version)
        ]
        newer += [
            (m.version, m, "pending")
            for m in plan.pending
            if version_key(m.version) > version_key(migration.version) and m not in plan.out_of_order
        ]
        for _version, other, state in newer:
            shared = overlap(mine, touched(other, dialect)) if other is not None else []
            if shared:
                findings.append(_conflict(migration, other, state, shared))
    return findings


def _branches(plan: Plan, dialect: str) -> list[Finding]:
    """Each pending migration against every other migration on disk whose file git says was added on
    another branch (compared by objects only then: the SQL of the rest is never parsed)."""
    if not plan.pending:
        return []
    lineage = Lineage(plan.pending[0].path.parent)
    if not lineage.added:
        return []
    applied = {row.version for row in plan.applied}
    findings, seen = [], set()
    for migration in plan.pending:
        for other in plan.migrations:
            pair = frozenset((migration.version, other.version))
            if (
                other is migration
                or pair in seen
                or _out_of_order_pair(plan, migration, other)
                or lineage.parallel(migration.path, other.path) is None
            ):
                continue
            seen.add(pair)
            shared = overlap(touched(migration, dialect), touched(other, dialect))
            if shared:
                state = "applied" if other.version in applied else "pending"
                findings.append(_conflict(migration, other, state, shared, branches=True))
    return findings


def _out_of_order_pair(plan: Plan, first: Migration, second: Migration) -> bool:
    """The out-of-order check already compares these two."""
    older, newer = sorted((first, second), key=lambda m: version_key(m.version))
    return older in plan.out_of_order and newer not in plan.out_of_order


def _conflict(migration: Migration, other: Migration, state: str, shared: list[str], branches: bool = False) -> Finding:
    if branches:
        why = (
            f"{migration.label} and {other.label} ({state}) were written on different branches (git: neither "
            f"commit that added them contains the other), and both touch {', '.join(shared)} (one changes what the "
            "other changes or uses): each was written without the other, and the result depends on an order "
            "nobody tested."
        )
    else:
        why = (
            f"{migration.label} is older than {other.label} ({state}) but was not applied before it, and both "
            f"touch {', '.join(shared)}: the result depends on an order nobody tested."
        )
    return Finding(
        rule="migration-conflict",
        severity="danger" if state == "applied" and not branches else "warning",
        title="migrations from different branches touch the same objects",
        migration=migration.version,
        table=shared[0].split(".")[0],
        message=why,
        recommendation=f"Review both together; if {migration.label} must run after {other.label}, give it a newer "
        "version, and test the merged result (db-migrate test).",
    )
