"""Column types as ranges: how long a string, how large an integer, how many digits a decimal
may hold. Enough to tell a narrowing type change and build the probe that counts what no longer fits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

T = exp.DataType.Type
INTEGER_RANGES: dict[T, tuple[int, int]] = {
    T.TINYINT: (-(2**7), 2**7 - 1),
    T.UTINYINT: (0, 2**8 - 1),
    T.SMALLINT: (-(2**15), 2**15 - 1),
    T.USMALLINT: (0, 2**16 - 1),
    T.SMALLSERIAL: (1, 2**15 - 1),
    T.MEDIUMINT: (-(2**23), 2**23 - 1),
    T.UMEDIUMINT: (0, 2**24 - 1),
    T.INT: (-(2**31), 2**31 - 1),
    T.UINT: (0, 2**32 - 1),
    T.SERIAL: (1, 2**31 - 1),
    T.BIGINT: (-(2**63), 2**63 - 1),
    T.UBIGINT: (0, 2**64 - 1),
    T.BIGSERIAL: (1, 2**63 - 1),
}
DECIMALS = {T.DECIMAL, T.UDECIMAL, T.BIGDECIMAL}
APPROXIMATE = {T.FLOAT, T.DOUBLE, T.UDOUBLE, T.UFLOAT} if hasattr(T, "UFLOAT") else {T.FLOAT, T.DOUBLE, T.UDOUBLE}


@dataclass(frozen=True)
class ColumnShape:
    family: str  # string | integer | decimal | float | other
    text: str
    max_chars: int | None = None  # string: None is unlimited
    int_range: tuple[int, int] | None = None
    precision: int | None = None  # decimal: None is unlimited
    scale: int = 0


def shape(text: str | None, dialect: str) -> ColumnShape | None:
    if not text:
        return None
    try:
        data_type = exp.DataType.build(text, dialect=dialect)
    except Exception:  # noqa: BLE001 - a type sqlglot does not know (domain, enum, array): no opinion
        return None
    params = [
        int(p.this.this)
        for p in data_type.expressions
        if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Literal) and p.this.is_int
    ]
    kind = data_type.this
    if kind in INTEGER_RANGES:
        return ColumnShape("integer", text, int_range=INTEGER_RANGES[kind])
    if kind in DECIMALS:
        return ColumnShape(
            "decimal", text, precision=params[0] if params else None, scale=params[1] if len(params) > 1 else 0
        )
    if kind in APPROXIMATE:
        return ColumnShape("float", text)
    if kind in exp.DataType.TEXT_TYPES:
        limited = kind in (T.VARCHAR, T.CHAR, T.NVARCHAR, T.NCHAR) and params
        return ColumnShape("string", text, max_chars=params[0] if limited else None)
    return ColumnShape("other", text)


def fits_within(old: ColumnShape, new: ColumnShape) -> bool:
    """Every value of `old` is representable in `new` unchanged."""
    if new.family == "string":
        return old.family == "string" and (new.max_chars is None or (old.max_chars or 10**9) <= new.max_chars)
    if new.family == "integer":
        lo, hi = new.int_range or (0, 0)
        return (
            old.family == "integer" and old.int_range is not None and lo <= old.int_range[0] and old.int_range[1] <= hi
        )
    if new.family == "decimal":
        if new.precision is None:
            return old.family in ("integer", "decimal")
        whole = new.precision - new.scale
        if old.family == "decimal" and old.precision is not None:
            return old.scale <= new.scale and old.precision - old.scale <= whole
        if old.family == "integer" and old.int_range is not None:
            return max(abs(old.int_range[0]), old.int_range[1]) < 10**whole
        return False
    return old.family == new.family and old.text.lower() == new.text.lower()


def may_lose_values(old_type: str, new_type: str | None, dialect: str) -> bool:
    """A type change may lose data unless every value of the old type fits the new one unchanged."""
    old, new = shape(old_type, dialect), shape(new_type, dialect)
    if old is None or new is None:
        return (old_type or "").lower() != (new_type or "").lower()
    return not fits_within(old, new)
