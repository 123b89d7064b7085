"""Probes as after the plan's own earlier UPDATE / DELETE of the same table.

A probe counts rows of the live table; when the plan first backfills or deletes rows of it (backfill,
then SET NOT NULL; merge duplicates, then UNIQUE), the statement will meet the table *after* those
changes. Read-only, each `UPDATE t SET c = e WHERE w` becomes `CASE WHEN w THEN e ELSE c END` in place
of `c`, and each `DELETE FROM t WHERE w` keeps only the rows where `w` is not true. Applied from the
last change back to the first, the probe counts on the live table exactly what the statement meets.
"""

from __future__ import annotations

from dataclasses import replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from .model import Operation
from .probes import Probe


def after_changes(probe: Probe, changes: list[Operation], dialect: str) -> Probe | None:
    """`probe` as after `changes` (oldest first), or None when a change cannot be expressed this way
    (an UPDATE with FROM / JOIN / LIMIT, a DELETE with LIMIT, SQL the parser cannot read)."""
    # The orphan probe reads the child table as `c` beside the parent `p`: its columns are qualified.
    alias = "c" if probe.kind == "orphans" else None
    keys = list(probe.keys) or [exp.column(c, table=alias, quoted=True) for c in probe.columns]
    condition, where, alive = probe.condition, probe.where, exp.true()
    for op in reversed(changes):
        tree = _own_rows_only(_parse(op.statement, dialect))
        if isinstance(tree, exp.Delete):
            gone = tree.args.get("where")
            alive = (
                exp.false()
                if gone is None
                else exp.and_(
                    alive,
                    exp.Not(this=exp.Coalesce(this=exp.paren(_qualify(gone.this, alias)), expressions=[exp.false()])),
                )
            )
        elif isinstance(tree, exp.Update):
            mapping = _assignments(tree, alias)
            condition, where, alive = (_substitute(e, mapping, alias) for e in (condition, where, alive))
            keys = [_substitute(k, mapping, alias) for k in keys]
        else:
            return None
    if probe.kind == "count_if":
        return replace(probe, condition=exp.and_(exp.paren(condition), exp.paren(alive)))
    filters = [exp.paren(e) for e in (where, alive) if e is not None]
    return replace(probe, keys=tuple(keys), columns=probe.columns if alias else (), where=exp.and_(*filters))


def _parse(statement: str, dialect: str) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(statement, read=dialect)
    except (ParseError, TokenError, ValueError):
        return None


def _own_rows_only(tree: exp.Expression | None) -> exp.Expression | None:
    """The UPDATE/DELETE with its own columns unqualified, or None when it reads another table's row
    (FROM, USING, JOIN, a WITH query) or stops early (LIMIT): then no probe of one table can follow it.
    Also None when a subquery names the row by the statement's alias (`DELETE FROM t x WHERE EXISTS
    (... x.id ...)`): a probe reads the table by its name, where that alias names nothing."""
    if not isinstance(tree, (exp.Update, exp.Delete)) or any(
        tree.args.get(a) for a in ("from", "from_", "using", "joins", "limit", "order", "tables", "with", "with_")
    ):
        return None
    name = tree.this.name.lower() if isinstance(tree.this, exp.Table) else ""
    alias = (tree.this.alias or tree.this.name).lower() if isinstance(tree.this, exp.Table) else ""
    own = {name, alias} - {""}
    tree = tree.copy()
    for column in [c for c in tree.find_all(exp.Column) if c.table]:
        if column.find_ancestor(exp.Select) is not None:
            if alias != name and column.table.lower() == alias:
                return None
            continue
        if column.table.lower() not in own:
            return None
        column.set("table", None)
    return tree


def own_rows_where(statement: str, dialect: str) -> exp.Expression | None:
    """The WHERE of an UPDATE/DELETE as a condition on its own table's rows (TRUE without one), or None
    when it reads another table's row or the parser cannot read it: no count of one table says how many
    rows it changes."""
    tree = _own_rows_only(_parse(statement, dialect))
    if tree is None:
        return None
    where = tree.args.get("where")
    return exp.true() if where is None else where.this


def _assignments(update: exp.Update, alias: str | None) -> dict[str, exp.Expression]:
    """column (lower case) -> its value after the UPDATE, in terms of the row before it."""
    condition = update.args.get("where")
    found = {}
    for assignment in update.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            continue
        value = _qualify(assignment.expression, alias)
        if condition is not None:
            value = exp.Case(
                ifs=[exp.If(this=exp.paren(_qualify(condition.this, alias)), true=value)],
                default=exp.column(assignment.this.name, table=alias, quoted=True),
            )
        found[assignment.this.name.lower()] = exp.paren(value)
    return found


def _outside_subqueries(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and node.find_ancestor(exp.Select) is None


def _qualify(expression: exp.Expression, alias: str | None) -> exp.Expression:
    """A copy with the row's own columns (outside subqueries) qualified by `alias`."""
    if alias is None:
        return expression.copy()

    def qualify(node: exp.Expression) -> exp.Expression:
        if _outside_subqueries(node) and not node.table:
            return exp.column(node.name, table=alias, quoted=True)
        return node

    return expression.copy().transform(qualify)


def _substitute(
    expression: exp.Expression | None, mapping: dict[str, exp.Expression], alias: str | None = None
) -> exp.Expression | None:
    """Each column of the probed table in `expression` (not those inside a subquery) replaced by its
    value after the UPDATE."""
    if expression is None or not mapping:
        return expression

    def swap(node: exp.Expression) -> exp.Expression:
        if _outside_subqueries(node) and node.name.lower() in mapping and node.table in ("", alias or ""):
            return mapping[node.name.lower()].copy()
        return node

    return expression.copy().transform(swap)
