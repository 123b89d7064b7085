"""Data probes: the exact numbers behind a finding, measured on the live tables, cheaply.

Rules ask for figures (`Probe`); `measure` answers them all at once:
* every "how many rows satisfy X" on one table becomes one column of a single SELECT, so N rules on
  a table cost one scan, not N; each column is the cheapest exact count of its kind (`_counted`);
* duplicate groups (UNIQUE) and orphans (FOREIGN KEY) need their own query shape: one query each
  (duplicates on PostgreSQL: a cheaper COUNT(DISTINCT) first, the GROUP BY only when some key repeats);
* everything shares a time budget. A query that runs out of it gives "not measured" (never a
  guess). A table above `sample_above_rows` is read from a page sample where the server can
  (PostgreSQL TABLESAMPLE SYSTEM), and the figure says so, with a 95% interval.
SQL is built with sqlglot and rendered for the engine's dialect (identifiers quoted).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

log = logging.getLogger(__name__)
ONE = exp.Literal.number(1)


@dataclass(frozen=True)
class Budget:
    seconds: float = 30.0  # for all probes of one analysis together
    sample_above_rows: int = 5_000_000  # estimated rows above which a table is sampled (where possible)
    sample_rows: int = 500_000  # about how many rows a sample reads


@dataclass(frozen=True)
class Probe:
    """One figure to measure on one live table. `name` is unique within an analysis."""

    name: str
    table: str
    kind: Literal["count_if", "duplicates", "orphans"] = "count_if"
    condition: exp.Expression | None = None  # count_if: rows where this is TRUE
    columns: tuple[str, ...] = ()  # duplicates: the key; orphans: the referencing columns
    keys: tuple[exp.Expression, ...] = ()  # duplicates: key expressions (an index on lower(email)), else columns;
    # orphans: the referencing values as expressions of the child row (alias c), else columns
    where: exp.Expression | None = None  # duplicates: a partial index's predicate; orphans: child rows counted
    ref_table: str | None = None  # orphans
    ref_columns: tuple[str, ...] = ()


@dataclass
class Measure:
    value: int | None  # None: not measured (time budget ran out)
    rows: int | None = None  # rows in the table (exact when scanned; scaled from the sample)
    groups: int | None = None  # duplicates: how many key values occur more than once
    exact: bool = True
    confidence: str | None = None
    sql: str = ""  # a query that lists the rows behind the figure


@dataclass
class _Clock:
    budget: Budget
    started: float = field(default_factory=time.monotonic)

    def remaining_ms(self) -> int:
        return int((self.budget.seconds - (time.monotonic() - self.started)) * 1000)


def measure(
    engine, probes: list[Probe], budget: Budget | None = None, estimated_rows: Callable[[str], int] | None = None
) -> dict[str, Measure]:
    """Every probe's figure. `estimated_rows` (table -> catalog estimate) lets a caller that has already
    read a table's statistics share them; else they are read here."""
    clock = _Clock(budget or Budget())
    estimate = estimated_rows or (lambda table: engine.table_stats(table).rows)
    results: dict[str, Measure] = {}
    by_table: dict[str, list[Probe]] = {}
    for probe in probes:
        if probe.kind == "count_if":
            by_table.setdefault(probe.table, []).append(probe)
    for table, group in by_table.items():
        results.update(_count_ifs(engine, table, group, estimate(table), clock))
    for probe in probes:
        if probe.kind == "duplicates":
            results[probe.name] = _duplicates(engine, probe, clock)
        elif probe.kind == "orphans":
            results[probe.name] = _orphans(engine, probe, clock)
    return results


# ---- one scan per table ----------------------------------------------------------------------
def _count_ifs(engine, table: str, probes: list[Probe], estimate: int, clock: _Clock) -> dict[str, Measure]:
    dialect = engine.dialect
    counted = [render(_counted(p.condition, engine.caps.aggregate_filter), dialect) for p in probes]
    # Column 0 counts the rows scanned; a count asked twice (two rules, or TRUE = every row) is computed once.
    columns = list(dict.fromkeys([render(exp.Count(this=exp.Star()), dialect), *counted]))
    sample = _sample(engine, estimate, clock.budget)
    source = engine.caps.quote(table) + (f" {sample[0]}" if sample else "")
    rows = _bounded(engine, f"SELECT {', '.join(columns)} FROM {source}", clock)
    if rows is None and len(probes) > 1 and clock.remaining_ms() > 0:
        # The server refused the scan (a timeout spends the budget): one figure it cannot compute (a subquery
        # on a table the plan creates first) must not leave this table's other figures unmeasured.
        return {k: m for p in probes for k, m in _count_ifs(engine, table, [p], estimate, clock).items()}
    if rows is None:
        return {p.name: Measure(None, rows=estimate, exact=False, sql=_listing(p, dialect)) for p in probes}
    values = dict(zip(columns, (int(v or 0) for v in rows[0])))
    scanned, counts = values[columns[0]], [values[c] for c in counted]
    if not sample:
        return {p.name: Measure(c, rows=scanned, sql=_listing(p, dialect)) for p, c in zip(probes, counts)}
    fraction = sample[1]
    return {p.name: _scaled(c, scanned, fraction, estimate, _listing(p, dialect)) for p, c in zip(probes, counts)}


def _counted(condition: exp.Expression, filter_clause: bool) -> exp.Expression:
    """The cheapest aggregate that counts, exactly, the rows where `condition` is TRUE (NULL and FALSE
    alike are not counted). Every predicate is evaluated once per row, so its form is the cost
    (tests/bench/bench_probes.py): COUNT(x) skips NULLs without evaluating an expression, and
    PostgreSQL's FILTER costs about a seventh less than COUNT(CASE WHEN c THEN 1 END), which
    MariaDB runs faster than SUM(c)."""
    condition = _without_noise(condition)
    star = exp.Count(this=exp.Star())
    if _is_true(condition):
        return star
    null_test = _null_test(condition)
    if null_test is not None:
        value, is_null = null_test
        return exp.Sub(this=star, expression=exp.Count(this=value)) if is_null else exp.Count(this=value)
    if filter_clause:
        return exp.Filter(this=star, expression=exp.Where(this=condition))
    return exp.Count(this=exp.Case(ifs=[exp.If(this=condition, true=ONE)]))


def _without_noise(condition: exp.Expression) -> exp.Expression:
    """The condition without outer parentheses and `AND TRUE` (what after_changes.py adds when the plan
    deletes nothing), so that `_counted` recognises its shape. Inner parentheses stay: NOT (a > 0)
    must not become NOT a > 0, which MySQL's HIGH_NOT_PRECEDENCE reads as (NOT a) > 0."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        left, right = _without_noise(condition.this), _without_noise(condition.expression)
        if _is_true(right):
            return left
        if _is_true(left):
            return right
    return condition


def _is_true(condition: exp.Expression) -> bool:
    return isinstance(condition, exp.Boolean) and bool(condition.this)


def _null_test(condition: exp.Expression) -> tuple[exp.Expression, bool] | None:
    """(x, True) for `x IS NULL`, (x, False) for `x IS NOT NULL`, each also under NOT; else None."""
    if isinstance(condition, exp.Not):
        inner = _null_test(_without_noise(condition.this))
        return None if inner is None else (inner[0], not inner[1])
    if isinstance(condition, exp.Is) and isinstance(condition.expression, exp.Null):
        return condition.this, not condition.args.get("negate")
    return None


def _sample(engine, estimate: int, budget: Budget) -> tuple[str, float] | None:
    if estimate <= budget.sample_above_rows:
        return None
    fraction = min(1.0, budget.sample_rows / max(estimate, 1))
    clause = engine.sample_clause(fraction * 100)
    return (clause, fraction) if clause else None


def _scaled(count: int, sampled: int, fraction: float, estimate: int, sql: str) -> Measure:
    """A count read from a page sample, scaled to the table, with a 95% interval (normal approximation;
    with no hit at all, the rule of three). The share comes from the sample; the table's size from the
    catalog estimate, which varies less than the number of rows a page sample happens to read."""
    total = estimate if estimate > 0 else round(sampled / fraction)
    if sampled == 0:
        return Measure(None, rows=total, exact=False, confidence="the sample read no rows", sql=sql)
    share = count / sampled
    margin = 1.96 * math.sqrt(share * (1 - share) / sampled) if count else 3 / sampled
    low, high = max(0.0, share - margin) * total, min(1.0, share + margin) * total
    confidence = (
        f"estimated from a {fraction:.2%} page sample ({sampled:,} rows): 95% interval "
        f"{int(low):,}..{math.ceil(high):,} (pages are sampled whole, so clustered values widen it)"
    )
    return Measure(round(share * total), rows=total, exact=False, confidence=confidence, sql=sql)


def _listing(probe: Probe, dialect: str) -> str:
    query = exp.select(exp.Star()).from_(_table(probe.table)).where(probe.condition)
    return render(query, dialect)


# ---- queries of their own --------------------------------------------------------------------
def _duplicates(engine, probe: Probe, clock: _Clock) -> Measure:
    dialect = engine.dialect
    keys = list(probe.keys) or [exp.column(c, quoted=True) for c in probe.columns]
    filters = [not_null(k) for k in keys]  # NULLs never collide
    if probe.where is not None:
        filters.append(exp.paren(probe.where))
    keyed_rows = exp.and_(*filters)
    listing = (
        exp.select(*keys, exp.alias_(exp.Count(this=exp.Star()), "copies"))
        .from_(_table(probe.table))
        .where(keyed_rows)
        .group_by(*keys)
        .having(exp.Count(this=exp.Star()) > ONE)
        .order_by(exp.Ordered(this=exp.column("copies"), desc=True))
    )
    if engine.caps.distinct_check_first and _all_distinct(engine, probe.table, keys, keyed_rows, clock):
        return Measure(0, groups=0, sql=render(listing, dialect))
    groups = (
        exp.select(exp.alias_(exp.Count(this=exp.Star()), "n"))
        .from_(_table(probe.table))
        .where(keyed_rows)
        .group_by(*keys)
        .having(exp.Count(this=exp.Star()) > ONE)
    )
    if engine.caps.sorted_grouping:  # a sort, not a temporary table on disk (MariaDB: ~25x faster at 1M keys)
        groups.set("operation_modifiers", [exp.var(engine.caps.sorted_grouping)])
    rows = _bounded(engine, f"SELECT COUNT(*), SUM(n) FROM ({render(groups, dialect)}) dup", clock)
    if rows is None:
        return Measure(None, exact=False, sql=render(listing, dialect))
    groups_found, rows_in_groups = (int(v or 0) for v in rows[0])
    return Measure(rows_in_groups, groups=groups_found, sql=render(listing, dialect))


def _all_distinct(engine, table: str, keys: list[exp.Expression], keyed_rows: exp.Expression, clock: _Clock) -> bool:
    """Every key occurs once: COUNT(*) = COUNT(DISTINCT key) over the rows with a key. On PostgreSQL this sort
    costs about a third of the GROUP BY ... HAVING over a million distinct keys (a hash table that spills to
    disk), and no duplicate is what a new UNIQUE expects; when some key repeats, the GROUP BY still runs
    (about 1.3x the GROUP BY alone when most keys are distinct; ~3x when a few keys fill the table)."""
    distinct = exp.Count(this=exp.Distinct(expressions=keys))
    query = (
        exp.select(exp.Sub(this=exp.Count(this=exp.Star()), expression=distinct)).from_(_table(table)).where(keyed_rows)
    )
    rows = _bounded(engine, render(query, engine.dialect), clock)
    return rows is not None and int(rows[0][0] or 0) == 0


def _orphans(engine, probe: Probe, clock: _Clock) -> Measure:
    dialect = engine.dialect
    child, parent = _table(probe.table, alias="c"), _table(probe.ref_table, alias="p")
    referencing = list(probe.keys) or [exp.column(c, table="c", quoted=True) for c in probe.columns]
    matches = [
        exp.EQ(this=exp.column(r, table="p", quoted=True), expression=c) for r, c in zip(probe.ref_columns, referencing)
    ]
    parent_row = exp.select(ONE).from_(parent).where(exp.and_(*matches))
    # MATCH SIMPLE (the default everywhere): a row with any NULL in the key is not checked.
    filters = [not_null(c) for c in referencing]
    if probe.where is not None:  # the child rows still there after the plan's earlier DELETEs
        filters.append(exp.paren(probe.where))
    condition = exp.and_(*filters, exp.Not(this=exp.Exists(this=parent_row)))
    count = exp.select(exp.Count(this=exp.Star())).from_(child).where(condition)
    listing = exp.select(exp.Star()).from_(child).where(condition)
    rows = _bounded(engine, render(count, dialect), clock)
    return Measure(None if rows is None else int(rows[0][0]), exact=rows is not None, sql=render(listing, dialect))


def _bounded(engine, sql: str, clock: _Clock) -> list[tuple] | None:
    """The rows, or None when the budget ran out (or the server refused the probe: not measured)."""
    remaining = clock.remaining_ms()
    if remaining <= 0:
        return None
    try:
        return engine.probe_query(sql, remaining)
    except Exception as exc:  # noqa: BLE001 - a probe that fails leaves the figure unmeasured, never a crash
        log.warning("probe failed: %s: %s", sql, exc)
        return None


# ---- rendering -------------------------------------------------------------------------------
def not_null(value: exp.Expression) -> exp.Expression:
    """`value IS NOT NULL`, never `NOT value IS NULL`: MySQL's HIGH_NOT_PRECEDENCE mode reads that as
    `(NOT value) IS NULL`, true only where the value IS NULL."""
    return exp.Is(this=value, expression=exp.Null(), negate=True)


def render(expression: exp.Expression, dialect: str) -> str:
    return expression.sql(dialect=dialect, identify=True)


def _table(name: str, alias: str | None = None) -> exp.Table:
    """A table by its name, never parsed as SQL: a name like we"ird or ünï is not SQL text."""
    return exp.table_(name, quoted=True, alias=alias)
