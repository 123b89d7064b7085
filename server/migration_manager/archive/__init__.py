"""Archive before destroy: what a statement would destroy, the archive table that keeps it, and
the SQL that puts it back when the reverse direction re-creates what was destroyed.

Pure planning on an `analysis.schema` snapshot plus one SQL module per database (dialects/<db>/archive.py: quoting, UPDATE ... FROM, identity/sequence handling). This module is light (reports import
`ArchiveStep`); the planning lives in `plan.py`. `service/archive.py` runs it around each statement of a migration and records it in the event log.

What is archived (an `ArchiveStep`):
* DROP COLUMN: the key columns + the dropped column, every row (NULLs too: the restore must give
  back exactly the values before, whatever DEFAULT the re-added column has);
* DROP TABLE: whole rows;
* a column type change that may lose data (the old type does not fit in the new one): key + values.
The key is the primary key, else a unique key on NOT NULL columns; without one a column's values
cannot be matched back to their rows, and the step says so instead of pretending.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

PREFIX = "_mm_archive_"  # `_mm_`: the tool's own tables, left out of schema comparisons and snapshots
MAX_NAME = 63  # PostgreSQL's identifier limit (MySQL: 64)
# Cheap text filters: only statements that can destroy / re-create are parsed at run time.
MAY_DESTROY = re.compile(r"\b(DROP|ALTER|MODIFY|CHANGE)\b", re.IGNORECASE)
MAY_RECREATE = re.compile(r"\b(CREATE|ADD|ALTER|MODIFY|CHANGE|RENAME)\b", re.IGNORECASE)


class ArchiveStep(BaseModel):
    """One archive made (or planned) before a destructive statement, or its restore."""

    action: str = Field(description="archive | restore | not-archived | not-restored")
    what: str = Field(description="column (DROP COLUMN) | table (DROP TABLE) | values (type change)")
    table: str
    columns: list[str] = Field(default_factory=list, description="the archived columns; empty: whole rows")
    keys: list[str] = Field(default_factory=list, description="columns that match archived values to their rows")
    row_columns: list[str] = Field(default_factory=list, description="table: every column of the archived rows")
    archive_table: str | None = None
    version: str = ""
    direction: str = Field("up", description="the direction whose statement destroyed the data")
    statement_index: int = 0
    old_type: str | None = Field(None, description="values: the column's type before the change")
    rows: int | None = Field(None, description="rows archived / restored (exact); None in a plan")
    rows_present: int | None = Field(
        None,
        description="a table's restore: restored rows whose key the migration's "
        "own statements had already made (given their archived values, not inserted)",
    )
    rows_estimate: int | None = Field(None, description="a plan: the table's rows (catalog estimate)")
    sql: list[str] = Field(default_factory=list, description="the SQL run for this step")
    note: str = ""

    @property
    def target(self) -> str:
        return f"{self.table}.{', '.join(self.columns)}" if self.columns else self.table

    def holds(self, table: str | None, column: str | None) -> bool:
        """Does this archive hold values of `table`.`column` (not whole rows)?"""
        from ..analysis.schema import key  # sqlglot: the reports that show archives load without it

        return (
            self.what != "table"
            and key(table or "") == key(self.table)
            and key(column or "") in {key(c) for c in self.columns}
        )


def archive_name(version: str, direction: str, statement_index: int, table: str, column: str | None) -> str:
    """`_mm_archive_<version>_<u|d><statement>_<table>[_<column>]`, cut with a hash suffix to fit
    every server's identifier limit; the prefix, version and statement make it unique."""
    raw = f"{PREFIX}{version}_{direction[0]}{statement_index}_{table}" + (f"_{column}" if column else "")
    name = re.sub(r"[^a-z0-9_]", "_", raw.lower())
    if len(name) <= MAX_NAME:
        return name
    return name[: MAX_NAME - 9] + "_" + hashlib.sha1(raw.encode()).hexdigest()[:8]


def key_match(quote, keys: list[str]) -> str:
    """`_t.k = _a.k AND ...`: a row of the table (_t) and its archived row (_a)."""
    return " AND ".join(f"_t.{quote(k)} = _a.{quote(k)}" for k in keys)


def differs(quote, columns: list[str], not_equal: str) -> str:
    """`(_t.a <not_equal> _a.a OR ...)`: a row whose values are already the archived ones is not rewritten
    (PostgreSQL re-checks a NOT VALID foreign key on any update of a row its own transaction inserted)."""
    return "(" + " OR ".join(not_equal.format(t=f"_t.{quote(c)}", a=f"_a.{quote(c)}") for c in columns) + ")"


def insert_missing(
    quote, table: str, archive: str, columns: list[str], unique: list[list[str]], *, overriding: str = ""
) -> str:
    """INSERT ... SELECT of the archived rows whose values of every key in `unique` are free in the table
    (a row already holding one is kept: inserting would duplicate it or fail)."""
    names = ", ".join(quote(c) for c in columns)
    picked = ", ".join(f"_a.{quote(c)}" for c in columns)
    sql = f"INSERT INTO {quote(table)} ({names}) {overriding}SELECT {picked} FROM {quote(archive)} AS _a"
    free = [f"NOT EXISTS (SELECT 1 FROM {quote(table)} AS _t WHERE {key_match(quote, keys)})" for keys in unique]
    return sql + (f" WHERE {' AND '.join(free)}" if free else "")
