"""The danger rules, one per file. Each module defines one `Rule` subclass and `RULE = ThatRule()`.

A rule's class docstring is its explanation, with the anti-pattern (Bad) and the safe way (Good)
as SQL; `skill_resources/rules-catalog.md` is generated from these files (analysis/catalog.py).
A rule runs in two steps so that every probe on a table shares one scan: `probes(ctx)` says what
to measure; after all rules asked, `check(ctx, measured)` turns the numbers into a Finding.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import ClassVar

from sqlglot import exp

from ... import dialects
from ..context import OperationContext
from ..model import Finding, Severity
from ..probes import Measure, Probe


class Rule:
    id: ClassVar[str]
    severity: ClassVar[Severity]  # the severity when it fires on real data
    title: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # operation kinds it looks at
    requires: ClassVar[str | None] = None  # a capability the database must have (a Dialect flag: "transactional_ddl")
    probe: ClassVar[str] = "none (decided from the statement and catalog statistics)"
    recommendation: ClassVar[str]

    @classmethod
    def runs_on(cls) -> tuple[str, ...]:
        """The dialects it looks at: those with the capability it requires."""
        return tuple(name for name in dialects.NAMES if cls.looks_at(name))

    @classmethod
    def looks_at(cls, dialect: str) -> bool:
        """Is `dialect` one of `runs_on` (asked of one dialect: `applies` runs for every operation)?"""
        return cls.requires is None or bool(getattr(dialects.get(dialect), cls.requires))

    def applies(self, ctx: OperationContext) -> bool:
        return ctx.op.kind in self.kinds and self.looks_at(ctx.dialect)

    def probes(self, ctx: OperationContext) -> list[Probe]:
        return []

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        raise NotImplementedError

    # ---- helpers for the rule files ------------------------------------------------------------
    def key(self, ctx: OperationContext, what: str = "") -> str:
        """A probe name unique to this rule, operation and figure."""
        op = ctx.op
        return f"{ctx.migration}|{ctx.direction}|{op.statement_index}|{self.id}|{op.table}|{op.column}|{what}"

    def count_if(self, ctx: OperationContext, condition: exp.Expression, what: str = "") -> Probe:
        return Probe(self.key(ctx, what), ctx.live_table or "", condition=condition)

    def finding(
        self,
        ctx: OperationContext,
        message: str,
        *,
        severity: Severity | None = None,
        measure: Measure | None = None,
        **fields,
    ) -> Finding:
        op = ctx.op
        base = {
            "rule": self.id,
            "severity": severity or self.severity,
            "title": self.title,
            "message": message,
            "migration": ctx.migration,
            "direction": ctx.direction,
            "statement_index": op.statement_index,
            "statement": op.statement,
            "table": op.table,
            "column": op.column,
            "recommendation": self.recommendation,
        }
        if measure is not None:
            base.update(
                rows_total=measure.rows,
                rows_affected=measure.value,
                exact=measure.exact,
                confidence=measure.confidence,
                probe_sql=measure.sql or None,
            )
        return Finding(**{**base, **fields})

    def column(self, ctx: OperationContext) -> exp.Column:
        return exp.column(ctx.live_column or ctx.op.column or "", quoted=True)


def count_text(measure: Measure, noun: str) -> str:
    """'1,234 rows', '~1,234 rows (sampled)', or 'an unknown number of rows (not measured in time)'."""
    if measure.value is None:
        return f"an unknown number of {noun} (not measured: the probe ran out of time or failed)"
    return f"{'~' if not measure.exact else ''}{measure.value:,} {noun}"


class LockRule(Rule):
    """A rule about what an operation's lock blocks (analysis/locks), on a table that exists and is used.
    Above `large_table_rows` (estimated) blocking is a danger, not a warning: it lasts long enough to queue
    the application's traffic."""

    severity = "warning"
    large_table_rows: ClassVar[int] = 1_000_000
    probe = "none: the lock model (analysis/locks) and the table's row estimate from catalog statistics"

    def applies(self, ctx: OperationContext) -> bool:
        return super().applies(ctx) and ctx.live_table is not None

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        claim = ctx.live.lock(ctx.op)
        if not self.fires(ctx, claim):
            return None
        rows = ctx.estimated_rows()
        severity = "danger" if rows >= self.large_table_rows else "warning"
        return self.finding(
            ctx,
            self.message(ctx, claim, f"{ctx.live_table} (~{rows:,} rows)"),
            severity=severity,
            rows_total=rows,
            exact=False,
            safe_rewrite=self.rewrite(ctx),
        )

    def fires(self, ctx: OperationContext, claim) -> bool:
        raise NotImplementedError

    def message(self, ctx: OperationContext, claim, table: str) -> str:
        raise NotImplementedError

    def rewrite(self, ctx: OperationContext) -> str | None:
        return None


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule module in this package, in id order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        found.append(importlib.import_module(f"{__name__}.{module.name}").RULE)
    return tuple(sorted(found, key=lambda rule: rule.id))
