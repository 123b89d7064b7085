"""Run every rule over a plan: walk the operations in order (keeping track of what the plan has
created, renamed or dropped so far), collect all probes, measure them together, then let each rule
turn its numbers into a finding."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .after_changes import after_changes
from .context import LiveDatabase, OperationContext, PlanState
from .model import Finding
from .operations import script_operations
from .probes import Budget, measure
from .rules import Rule, all_rules

log = logging.getLogger(__name__)
LOSS_RULES = {"drop-column", "drop-table"}  # rows deleted or blanked first are lost all the same


@dataclass(frozen=True)
class ScriptToCheck:
    """One direction of one migration, as it will run."""

    migration: str
    direction: str
    statements: tuple[str, ...]
    transactional: bool  # runs in one transaction (PostgreSQL/SQLite without CONCURRENTLY & co.)


def find(
    engine,
    scripts: Sequence[ScriptToCheck],
    *,
    lock_timeout_ms: int | None = None,
    budget: Budget | None = None,
    rules: Sequence[Rule] | None = None,
) -> list[Finding]:
    live = LiveDatabase(engine)  # the catalog, read once for every rule and probe
    checks = _applicable(live, scripts, lock_timeout_ms, rules or all_rules())
    probes, counted_after = {}, set()
    for rule, ctx in checks:
        asked = _safely(rule, ctx, rule.probes, [])
        after = _after_data_changes(rule, ctx, asked, engine.dialect)
        if after is not None:
            asked = after
            counted_after.add(id(ctx))
        probes.update((p.name, p) for p in asked)
    measured = measure(engine, list(probes.values()), budget, estimated_rows=live.estimated_rows)
    found = [(_safely(rule, ctx, lambda c, rule=rule: rule.check(c, measured), None), ctx) for rule, ctx in checks]
    return [
        _before_data_changes(finding, ctx, id(ctx) in counted_after) for finding, ctx in found if finding is not None
    ]


def _after_data_changes(rule: Rule, ctx: OperationContext, asked: list, dialect: str) -> list | None:
    """The rule's probes as after the plan's earlier UPDATE/DELETE of the table, when every one of them
    can be put that way (analysis/after_changes.py); None to keep them as they are."""
    if not asked or not ctx.data_changed_by or rule.id in LOSS_RULES:
        return None
    changes = [op for _, op in ctx.data_changed_by]
    after = [after_changes(p, changes, dialect) for p in asked]
    return None if any(p is None for p in after) else after


def _before_data_changes(finding: Finding, ctx: OperationContext, counted_after: bool = False) -> Finding:
    """A count is measured on the live table: before the plan's own earlier UPDATE/DELETE of those rows,
    which may be the very fix (backfill, then SET NOT NULL; merge duplicates, then UNIQUE; delete orphans,
    then the FOREIGN KEY). Counted as after them where the probe can be (`counted_after`: said so, the
    severity stands); otherwise a warning that says so, not a danger stopping the fix it asks for."""
    if counted_after:
        _, first = ctx.data_changed_by[0]
        return finding.model_copy(
            update={
                "message": finding.message + f" (Counted as after the plan's earlier "
                f"{first.kind.upper()} {first.table}, which runs first.)"
            }
        )
    if finding.severity != "danger" or not finding.counts or finding.rule in LOSS_RULES:
        return finding
    named = {n.lower() for n in (ctx.live_column, ctx.op.column, *ctx.op.columns, *_check_columns(ctx)) if n}
    changes = [(m, o) for m, o in ctx.data_changed_by if o.kind == "delete" or named & {c.lower() for c in o.columns}]
    if not changes:
        return finding
    migration, first = changes[0]
    where = f"statement {first.statement_index}" + (f" of {migration}" if migration != ctx.migration else "")
    note = (
        f" Measured before {where} ({first.kind.upper()} {first.table}), which runs first and may change these "
        "rows: the probe query shows what is left after it runs."
    )
    return finding.model_copy(update={"severity": "warning", "exact": False, "message": finding.message + note})


def _check_columns(ctx: OperationContext) -> list[str]:
    if not ctx.op.check:
        return []
    from sqlglot import exp

    try:
        return [c.name for c in exp.condition(ctx.op.check, dialect=ctx.dialect).find_all(exp.Column)]
    except Exception:  # noqa: BLE001 - an expression sqlglot cannot read names no column
        return []


def _applicable(
    live: LiveDatabase, scripts: Sequence[ScriptToCheck], lock_timeout_ms: int | None, rules: Sequence[Rule]
) -> list[tuple[Rule, OperationContext]]:
    state = PlanState(live)
    checks = []
    for script in scripts:
        operations = tuple(script_operations(script.statements, live.dialect))
        for op in operations:
            ctx = state.context(
                op,
                migration=script.migration,
                direction=script.direction,
                script=operations,
                transactional=script.transactional,
                lock_timeout_ms=lock_timeout_ms,
            )
            checks += [(rule, ctx) for rule in rules if rule.applies(ctx)]
            state.record(op, script.migration)
    return checks


def _safely(rule: Rule, ctx: OperationContext, step, fallback):
    """A rule that breaks on some SQL must not stop a migration: it says so as a warning instead."""
    try:
        return step(ctx)
    except Exception as exc:  # noqa: BLE001 - reported as a finding, never a crash of the pipeline
        log.warning("rule %s failed on statement %s: %s", rule.id, ctx.op.statement_index, exc)
        if fallback is not None:
            return fallback
        return rule.finding(ctx, f"Rule {rule.id} could not analyze this statement: {exc}", severity="warning")
