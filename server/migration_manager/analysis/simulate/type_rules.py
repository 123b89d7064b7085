"""Which type changes and foreign-key type pairs a server accepts, by type family.

PostgreSQL's ALTER COLUMN TYPE without USING needs an assignment cast: numbers convert among
themselves, anything converts to a string type (I/O conversion), a string converts to nothing
else, integer <-> boolean casts are explicit only, and a time of day is no date.
MySQL/MariaDB convert anything, but in strict mode the ALTER fails on the first value that does
not convert. Foreign keys: PostgreSQL needs the referencing type to reach the referenced type's
equality operator (an integer may reference a numeric, not the other way round); InnoDB needs
identical types except for string lengths ("Foreign key constraint is incorrectly formed").
tests/analysis/test_simulate_*.py check each rule against the live servers.
"""

from __future__ import annotations

from ... import dialects
from ..schema import ColumnType

NUMERIC = {"integer", "decimal", "float"}
_TIME_OF_DAY = ("time", "timetz", "interval")
_DAY = ("date", "timestamp", "timestamptz", "datetime")

Problem = tuple[str, str]  # (severity, why)


def type_change_problem(old: ColumnType, new: ColumnType, dialect: str, using: bool) -> Problem | None:
    """Why changing a column from `old` to `new` fails or may fail; None when it converts."""
    if _converts(old, new) or "other" in (old.family, new.family):
        return None
    if dialects.get(dialect).type_change_needs_using:
        if using:
            return None
        return "error", (
            f"PostgreSQL has no automatic cast from {old.normalized} to {new.normalized}: the ALTER "
            'fails ("cannot be cast automatically"); add USING with an explicit conversion'
        )
    return "warning", (
        f"{old.normalized} to {new.normalized} converts value by value: in strict mode the ALTER "
        "fails on the first value that does not convert, otherwise such values become 0 or NULL"
    )


def _converts(old: ColumnType, new: ColumnType) -> bool:
    if new.family == "string" or (old.family in NUMERIC and new.family in NUMERIC):
        return True
    if old.family == new.family == "temporal":
        old_base, new_base = _base(old), _base(new)
        return not (
            (old_base in _TIME_OF_DAY and new_base in _DAY) or (old_base == "date" and new_base in _TIME_OF_DAY)
        )
    return old.family == new.family


def _base(column_type: ColumnType) -> str:
    return column_type.normalized.split("(")[0]


def foreign_key_problem(column: ColumnType, referenced: ColumnType, dialect: str) -> Problem | None:
    """Why a foreign key from a `column` to a `referenced` column is refused or unwise; None when fine."""
    if column.normalized == referenced.normalized or "other" in (column.family, referenced.family):
        return None
    traits = dialects.get(dialect)
    if traits.column_types_are_affinities:  # SQLite: any column may reference any other
        return None
    refused = (
        "error",
        (
            f"{column.normalized} cannot reference {referenced.normalized}: the server refuses the "
            "foreign key (types differ); use the referenced column's type"
        ),
    )
    if traits.foreign_key_types == "family":
        reaches = column.family == referenced.family or (column.family == "integer" and referenced.family in NUMERIC)
        if not reaches:
            return refused
    elif column.family != "string" or referenced.family != "string":
        return refused
    return "warning", (
        f"{column.normalized} references {referenced.normalized}: it works, but every check compares "
        "across types; use the same type"
    )
