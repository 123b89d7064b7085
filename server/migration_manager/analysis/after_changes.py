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
    (a foreign-key probe, an UPDATE with FROM / JOIN / LIMIT, SQL the parser cannot read)."""
    if probe.kind not in ("count_if", "duplicates"):
        return None
    keys = list(probe.keys) or [exp.column(c, quoted=True) for c in probe.columns]
    condition, where, alive = probe.condition, probe.where, exp.true()
    for op in reversed(changes):
        tree = _parse(op.statement, dialect)
        if isinstance(tree, exp.Delete) and not tree.args.get("limit"):
            gone = tree.args.get("where")
            alive = exp.false() if gone is None else exp.and_(
                alive, exp.Not(this=exp.Coalesce(this=exp.paren(gone.this.copy()), expressions=[exp.false()])))
        elif isinstance(tree, exp.Update) and not any(tree.args.get(a) for a in ("from", "joins", "limit", "order")):
            mapping = _assignments(tree)
            condition, where, alive = (_substitute(e, mapping) for e in (condition, where, alive))
            keys = [_substitute(k, mapping) for k in keys]
        else:
            return None
    if probe.kind == "count_if":
        return replace(probe, condition=exp.and_(exp.paren(condition), exp.paren(alive)))
    filters = [exp.paren(e) for e in (where, alive) if e is not None]
    return replace(probe, keys=tuple(keys), columns=(), where=exp.and_(*filters))


def _parse(statement: str, dialect: str) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(statement, read=dialect)
    except (ParseError, TokenError, ValueError):
        return None


def _assignments(update: exp.Update) -> dict[str, exp.Expression]:
    """column (lower case) -> its value after the UPDATE, in terms of the row before it."""
    condition = update.args.get("where")
    found = {}
    for assignment in update.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            continue
        value = assignment.expression.copy()
        if condition is not None:
            value = exp.Case(ifs=[exp.If(this=exp.paren(condition.this.copy()), true=value)],
                             default=exp.column(assignment.this.name, quoted=True))
        found[assignment.this.name.lower()] = exp.paren(value)
    return found


def _substitute(expression: exp.Expression | None, mapping: dict[str, exp.Expression]) -> exp.Expression | None:
    """Each column of the probed table in `expression` (not those inside a subquery) replaced by its
    value after the UPDATE."""
    if expression is None or not mapping:
        return expression

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name.lower() in mapping and node.find_ancestor(exp.Select) is None:
            return mapping[node.name.lower()].copy()
        return node

    return expression.copy().transform(swap)
