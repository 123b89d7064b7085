"""The Performance Impact Report: for each statement, the lock it takes and what that blocks,
the table's size from catalog statistics, the estimated duration from this server's measured
throughput, extra disk, an overall impact, recommendations and the query to watch its locks.

The plan is replayed on a snapshot of the live schema (simulate.Replay) so that each statement
is judged on the schema it will meet: a table created two statements earlier is new and empty.
This module holds the report model only (cheap to import); plan.py computes it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class StatementImpact(BaseModel):
    migration: str
    direction: Literal["up", "down"] = "up"
    statement_index: int
    statement: str
    operations: list[str]
    table: str | None = None
    server: str = Field(description="the server version the lock claims are for")
    lock: str
    algorithm: str | None = None
    other_tables: dict[str, str] = Field(default_factory=dict)
    blocks: str = Field(description="what waits while it runs: reads and writes / writes / nothing")
    blocks_reads: bool
    blocks_writes: bool
    rewrites_table: bool
    scans_table: bool
    builds_index: bool
    rows: int | None = Field(None, description="rows in the table, from catalog statistics")
    rows_source: str | None = None
    table_bytes: int | None = None
    index_bytes: int | None = None
    estimated_seconds: float = Field(description="how long the statement works on the table")
    blocked_seconds: float = Field(description="how long reads/writes wait (not counting the wait for the lock)")
    estimate_basis: str
    extra_disk_bytes: int = 0
    impact: Literal["low", "medium", "high"]
    explanation: str
    other_versions: dict[str, str] = Field(default_factory=dict, description="how older servers differ")
    recommendations: list[str] = Field(default_factory=list)
    watch_query: str
