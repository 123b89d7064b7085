"""Run every rule over a plan: walk the operations in order (keeping track of what the plan has
created, renamed or dropped so far), collect all probes, measure them together, then let each rule
turn its numbers into a finding."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .context import LiveDatabase, OperationContext, PlanState
from .model import Finding
from .operations import script_operations
from .probes import Budget, measure
from .rules import Rule, all_rules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScriptToCheck:
    """One direction of one migration, as it will run."""

    migration: str
    direction: str
    statements: tuple[str, ...]
    transactional: bool  # runs in one transaction (PostgreSQL/SQLite without CONCURRENTLY & co.)


def find(engine, scripts: Sequence[ScriptToCheck], *, lock_timeout_ms: int | None = None,
         budget: Budget | None = None, rules: Sequence[Rule] | None = None) -> list[Finding]:
    checks = _applicable(engine, scripts, lock_timeout_ms, rules or all_rules())
    probes = {p.name: p for rule, ctx in checks for p in _safely(rule, ctx, rule.probes, [])}
    measured = measure(engine, list(probes.values()), budget)
    found = [_safely(rule, ctx, lambda c: rule.check(c, measured), None) for rule, ctx in checks]
    return [f for f in found if f is not None]


def _applicable(engine, scripts: Sequence[ScriptToCheck], lock_timeout_ms: int | None,
                rules: Sequence[Rule]) -> list[tuple[Rule, OperationContext]]:
    state = PlanState(LiveDatabase(engine))
    checks = []
    for script in scripts:
        operations = tuple(script_operations(script.statements, engine.dialect))
        for op in operations:
            ctx = state.context(op, migration=script.migration, direction=script.direction, script=operations,
                                transactional=script.transactional, lock_timeout_ms=lock_timeout_ms)
            checks += [(rule, ctx) for rule in rules if rule.applies(ctx)]
            state.apply(op)
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
