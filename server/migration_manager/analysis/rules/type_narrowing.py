"""type-narrowing: values that do not fit a column's new, narrower type."""

from __future__ import annotations

from sqlglot import exp

from ... import dialects
from ..context import OperationContext
from ..model import Finding
from ..probes import Measure, Probe
from ..type_families import ColumnShape, fits_within, shape
from . import Rule

ROUNDED = "are rounded silently"  # everywhere; what a value that does not fit does is the Dialect's value_too_big


class TypeNarrowing(Rule):
    """Changing a column to a narrower type (VARCHAR(255) -> VARCHAR(100), TEXT -> VARCHAR(n),
    BIGINT -> INT, NUMERIC(12,2) -> NUMERIC(8,2), a decimal to an integer) fails on the first
    value that does not fit (PostgreSQL, MySQL strict mode) or silently truncates, clamps or
    rounds it (MySQL/MariaDB without strict mode). A rewrite of the whole table happens first.

    Bad:
        ALTER TABLE users ALTER COLUMN name TYPE varchar(100);   -- 37 names are longer
    Good (decide what happens to the values that do not fit, then narrow):
        SELECT id, name FROM users WHERE char_length(name) > 100;
        UPDATE users SET name = left(name, 100) WHERE char_length(name) > 100;  -- or fix them by hand
        ALTER TABLE users ALTER COLUMN name TYPE varchar(100);
    """

    id = "type-narrowing"
    severity = "danger"
    title = "values do not fit the narrower type"
    kinds = ("alter_column_type",)
    probe = (
        "values longer than the new length, outside the new integer range, with more integer digits than "
        "the new precision allows, or with decimals the new scale rounds away (shares the table's one scan)"
    )
    recommendation = "Fix or archive the values that do not fit (the probe query lists them), or keep the wider type."

    def probes(self, ctx: OperationContext) -> list[Probe]:
        change = self._change(ctx)
        if change is None:
            return []
        return [self.count_if(ctx, condition, what) for what, condition, _ in _conditions(self.column(ctx), *change)]

    def check(self, ctx: OperationContext, measured: dict[str, Measure]) -> Finding | None:
        change = self._change(ctx)
        if change is None:
            return None
        old, new = change
        problems = [
            (what, measured[self.key(ctx, what)], words) for what, _, words in _conditions(self.column(ctx), old, new)
        ]
        bad = [(what, m, words) for what, m, words in problems if m.value != 0]
        first = problems[0][1]
        target = f"{ctx.op.target} from {old.text} to {new.text}"
        if not bad:
            return self.finding(
                ctx,
                f"Every value of {ctx.op.target} fits {new.text} ({first.rows or 0:,} rows checked).",
                severity="info",
                measure=first,
            )
        described = "; ".join(
            f"{'an unknown number of' if m.value is None else f'{m.value:,}'} {words} "
            f"{ROUNDED if what == 'rounded' else dialects.get(ctx.dialect).value_too_big}"
            for what, m, words in bad
        )
        counts = {what: m.value for what, m, _ in problems if m.value is not None}
        return self.finding(
            ctx,
            f"Changing {target}: {described}.",
            measure=bad[0][1],
            rows_affected=sum(m.value or 0 for _, m, _ in bad),
            counts=counts,
        )

    @staticmethod
    def _change(ctx: OperationContext) -> tuple[ColumnShape, ColumnShape] | None:
        if not ctx.probed or not ctx.live_column:
            return None
        old = shape(ctx.live.column_type(ctx.live_table, ctx.live_column), ctx.dialect)
        new = shape(ctx.op.new_type, ctx.dialect)
        if old is None or new is None or new.family == "other" or fits_within(old, new):
            return None
        if new.family in ("integer", "decimal") and old.family not in ("integer", "decimal", "float"):
            return None  # a different kind of value altogether: the schema check judges the conversion
        if new.family == "string" and old.family != "string":
            return None
        return old, new


def _conditions(column: exp.Column, old: ColumnShape, new: ColumnShape) -> list[tuple[str, exp.Expression, str]]:
    """(figure name, rows where it is true, what those rows are) for each way a value may not fit."""
    number = exp.Literal.number
    if new.family == "string":
        return [("too_long", _longer_than(column, new.max_chars), f"values longer than {new.max_chars} characters")]
    if new.family == "integer":
        lo, hi = new.int_range or (0, 0)
        # One BETWEEN costs less per row than two comparisons joined by OR (MariaDB); NULL stays uncounted.
        outside = exp.Not(this=exp.paren(exp.Between(this=column, low=number(lo), high=number(hi))))
        found = [("out_of_range", outside, f"values outside {lo:,}..{hi:,}")]
        if old.family != "integer":
            found.append(
                ("rounded", exp.NEQ(this=column, expression=exp.Round(this=column)), "values with decimals, which")
            )
        return found
    found = []
    if new.precision is not None:
        limit = 10 ** (new.precision - new.scale)
        found.append(
            ("overflow", exp.Abs(this=column) >= number(limit), f"values of {limit:,} or more (beyond {new.text})")
        )
    if old.family != "integer" and (old.family == "float" or old.scale > new.scale or old.precision is None):
        found.append(
            (
                "rounded",
                exp.NEQ(this=column, expression=exp.Round(this=column, decimals=number(new.scale))),
                f"values with more than {new.scale} decimals, which",
            )
        )
    return found


RULE = TypeNarrowing()


def _longer_than(column: exp.Column, chars: int) -> exp.Expression:
    """Values of more than `chars` characters. Counting characters walks a UTF-8 string; its byte length
    is at hand, and a value never has more characters than bytes, so only values of more than `chars`
    bytes are counted through (OCTET_LENGTH: PostgreSQL and MySQL/MariaDB, where the rule applies)."""
    limit = exp.Literal.number(chars)
    return exp.and_(exp.Anonymous(this="OCTET_LENGTH", expressions=[column]) > limit, exp.Length(this=column) > limit)
