"""Numbers from the server itself for the impact report: table sizes from catalog statistics,
current activity (sessions, open transactions, load now against the long-run average), the
server's measured throughput, and the query that watches locks while a statement runs.
One module per database (dialects/<db>/stats.py) holds its catalog SQL.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from ...dialects import dialect_part

# A server's measured rates are kept this long (per user, keyed by server and version): the calibration
# writes scratch tables and takes about a second; the hardware behind a server rarely changes within a day.
THROUGHPUT_TTL = timedelta(hours=24)
log = logging.getLogger(__name__)


class TableSize(BaseModel):
    table: str
    rows: int = Field(description="row estimate from catalog statistics")
    rows_source: str = Field(description="which statistic the row count comes from")
    table_bytes: int = Field(description="the table's own data (heap / clustered index)")
    index_bytes: int
    avg_row_bytes: float = 0.0


class Activity(BaseModel):
    """How busy the server is now, read from its own statistics."""

    active_sessions: int
    open_transactions: int
    oldest_transaction_s: float | None = Field(
        None, description="age of the oldest open transaction: a DDL lock waits for it"
    )
    average_tps: float | None = Field(
        None,
        description="transactions (PostgreSQL) or queries (MySQL) per second "
        "since the statistics were reset / the server started",
    )
    current_tps: float | None = Field(None, description="the same, sampled over the last second")
    source: str = ""

    @property
    def quieter_than_usual(self) -> bool | None:
        if self.average_tps is None or self.current_tps is None:
            return None
        return self.current_tps <= self.average_tps


class Usage(BaseModel):
    """Who uses a table (or one of its columns), read from the server: the objects stored in the
    database whose text names it, which a rename breaks, and how much the table was used lately."""

    breaks: list[str] = Field(default_factory=list, description="views, triggers, functions a rename breaks")
    reads: int | None = Field(None, description="scans of the table since the statistics were reset")
    writes: int | None = Field(None, description="rows inserted, updated, deleted since then")
    source: str = ""


class Rate(BaseModel):
    """One kind of work on this server: a fixed cost per statement plus a cost per row (or byte),
    fitted from two calibration tables of different sizes."""

    fixed_s: float
    rows_per_s: float
    bytes_per_s: float | None = None

    def seconds(self, rows: int, table_bytes: int | None = None, growth: float = 1.0) -> float:
        if self.bytes_per_s and table_bytes:
            return self.fixed_s + table_bytes / self.bytes_per_s * growth
        return self.fixed_s + rows / self.rows_per_s * growth


def fit(small: tuple[int, int, float], big: tuple[int, int, float]) -> Rate:
    """A Rate through two measurements (rows, bytes, seconds); a fixed cost is never negative."""
    (rows_a, bytes_a, took_a), (rows_b, bytes_b, took_b) = small, big
    per_row = (took_b - took_a) / (rows_b - rows_a)
    if per_row <= 0:  # noise swallowed the difference: no fixed cost, the big table's average
        return Rate(fixed_s=0.0, rows_per_s=rows_b / took_b, bytes_per_s=bytes_b / took_b if bytes_b else None)
    fixed = max(took_a - per_row * rows_a, 0.0)
    per_byte = (took_b - took_a) / (bytes_b - bytes_a) if bytes_b > bytes_a else None
    return Rate(fixed_s=fixed, rows_per_s=1 / per_row, bytes_per_s=1 / per_byte if per_byte and per_byte > 0 else None)


class Throughput(BaseModel):
    """What this server does per second, measured on calibration tables of `rows` / 5 and `rows` rows."""

    rows: int
    scan: Rate
    rewrite: Rate = Field(description="the table copied row by row (PostgreSQL rewrite, MySQL ALGORITHM=COPY)")
    rebuild: Rate = Field(description="an in-place rebuild (MySQL ALGORITHM=INPLACE); PostgreSQL: as rewrite")
    index: dict[str, Rate] = Field(description="index build by key family: integer, string")
    update: Rate = Field(description="UPDATE of every row of a table with two indexes")
    join: Rate = Field(
        description="anti-join of a table with a keyed table, as a foreign-key check runs it (rows of both sides)"
    )
    ddl_fixed_s: float = Field(description="a catalog-only ALTER: the floor of any DDL statement")
    sort_memory_bytes: int | None = Field(
        None, description="memory an index build sorts in before it spills to disk (PostgreSQL maintenance_work_mem)"
    )
    measured_ms: int = 0
    measured_at: datetime | None = Field(None, description="when the calibration ran (UTC)")

    @classmethod
    def fitted(cls, rows: int, small: dict, big: dict, **fixed) -> Throughput:
        """The rates through the two calibration tables' (rows, bytes, seconds) per operation; a server that
        measured no in-place rebuild of its own rebuilds as it rewrites."""
        rate = {name: fit(small[name], big[name]) for name in big}
        return cls(
            rows=rows,
            scan=rate["scan"],
            rewrite=rate["rewrite"],
            rebuild=rate.get("rebuild", rate["rewrite"]),
            index={"integer": rate["integer"], "string": rate["string"]},
            update=rate["update"],
            join=rate["join"],
            **fixed,
        )


def _module(engine):
    return dialect_part(engine.dialect, "stats")


def table_sizes(engine, tables: list[str]) -> dict[str, TableSize]:
    """Sizes of the tables that exist (others are left out), keyed by lower-case name."""
    return {size.table.lower(): size for size in _module(engine).table_sizes(engine, tables)}


def key_width(engine, table: str, columns: list[str]) -> float | None:
    """Average width in bytes of these columns' values, where the server keeps it (pg_stats)."""
    return _module(engine).key_width(engine, table, columns)


def activity(engine) -> Activity:
    """Sessions and open transactions now (one catalog read, no waiting)."""
    return _module(engine).activity(engine)


def with_current_load(engine, seen: Activity, sample_s: float = 1.0) -> Activity:
    """`seen` plus the load now against the long-run average (counters read `sample_s` apart)."""
    average, current = _module(engine).load(engine, sample_s)
    return seen.model_copy(update={"average_tps": average, "current_tps": current})


def usage(engine, table: str, column: str | None = None) -> Usage:
    """What names `table` (or `table`.`column`) on the server and breaks when it is renamed."""
    return _module(engine).usage(engine, table, column)


def names_in(text: str, *names: str) -> bool:
    """Every one of `names` appears in `text` as a word of its own (quoted or not, any case)."""
    import re

    return all(re.search(rf"(?<![\w$]){re.escape(n)}(?![\w$])", text or "", re.IGNORECASE) for n in names)


def watch_query(engine, tables: list[str]) -> str:
    return _module(engine).watch_query(tables)


_THROUGHPUT: dict[str, Throughput] = {}


def throughput(engine, rows: int | None = None) -> Throughput:
    """The server's throughput: measured (about a second) at most once per THROUGHPUT_TTL for a server and
    version, kept in the process and in the user's cache folder for the next command."""
    where = f"{engine.url.kind}://{engine.url.host}:{engine.url.port}" if engine.url.host else engine.url.redacted
    key = f"{where} {engine.server_version()} {rows or 'default'}"
    if key not in _THROUGHPUT:
        entries = {k: v for k, v in _cache_entries().items() if _fresh(v)}  # the cache file, read once
        _THROUGHPUT[key] = (
            Throughput.model_validate(entries[key]) if key in entries else _measure(engine, key, rows, entries)
        )
    return _THROUGHPUT[key]


def _measure(engine, key: str, rows: int | None, entries: dict) -> Throughput:
    """Calibrate now and write the cache back: the fresh `entries` plus this one."""
    started = time.perf_counter()
    module = _module(engine)
    measured = module.measure_throughput(engine, rows or module.CALIBRATION_ROWS).model_copy(
        update={"measured_ms": int((time.perf_counter() - started) * 1000), "measured_at": datetime.now(UTC)}
    )
    entries = {**entries, key: measured.model_dump(mode="json")}
    try:
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        _cache_file().write_text(json.dumps(entries))
    except OSError as exc:  # a read-only home: measure again next time, nothing worse
        log.debug("throughput cache not written: %s", exc)
    return measured


def _fresh(entry) -> bool:
    try:
        at = datetime.fromisoformat(entry["measured_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return timedelta(0) <= datetime.now(UTC) - at < THROUGHPUT_TTL


def _cache_entries() -> dict:
    try:
        entries = json.loads(_cache_file().read_text())
    except (OSError, ValueError):  # none yet, or unreadable: measure
        return {}
    return entries if isinstance(entries, dict) else {}


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "migration-manager" / "throughput.json"


def timed(run) -> float:
    """Seconds one call of `run` takes (never zero, so rates stay finite)."""
    started = time.perf_counter()
    run()
    return max(time.perf_counter() - started, 1e-6)
