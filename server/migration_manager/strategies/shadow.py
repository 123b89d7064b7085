"""shadow: copy, sync, verify, swap — an ALTER TABLE run on a copy of the table while the application keeps writing.

Phases (pt-online-schema-change's, with what none of the peers does on PostgreSQL: a verify, and a way back):
* start: `_mm_new_<t>` is created like the table with the ALTER applied to it; triggers on the table carry every
  INSERT / UPDATE / DELETE into it; the rows are copied in primary-key batches (strategies/batches.py: adaptive
  size, throttled, checkpointed); then old and new are compared batch by batch (row count + checksum read in one
  snapshot), a batch that differs is copied again; then the cut-over: the lock queue is read first (a long
  transaction on the table would queue every writer behind the rename), then the rename runs under a short lock
  timeout, retried with backoff and jitter. From that instant triggers on the new table keep `_mm_old_<t>` in step.
* complete: drops the reverse triggers and `_mm_old_<t>`.
* rollback (before complete): swaps back; the old table has every write made since the swap.

The catalog is the state (which triggers exist on which table), so a killed run is read back as it is: before the
swap it is resumed (the copy is idempotent) or undone; after it, completed or rolled back. The SQL lives in
dialects/<db>/shadow.py; this module decides nothing by database name.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from ..dialects import dialect_part
from ..dialects.base import Engine
from ..errors import MigrationError
from .batches import BatchPolicy, BatchProgress, Checkpoint, key_after, range_step, run_in_batches, signals_for
from .model import SWAP_LOCK_TIMEOUT_MS

Phase = Literal["none", "copying", "swapped"]
NEW, OLD, SPARE = "_mm_new_", "_mm_old_", "_mm_spare_"
MAX_NAME = 63  # PostgreSQL's identifier limit (MariaDB's is 64)

# `ALTER TABLE [ONLY] [IF EXISTS] name actions`: the actions are applied as written to the copy.
_ALTER = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?"
    r"(?P<name>(?:\"(?:[^\"]|\"\")+\"|`[^`]+`|[\w$]+)(?:\s*\.\s*(?:\"(?:[^\"]|\"\")+\"|`[^`]+`|[\w$]+))?)"
    r"\s+(?P<actions>.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_REFUSED_KINDS = {
    "rename_column": "a renamed column cannot be told from a dropped one and an added one (rows would lose it)",
    "rename_table": "renaming the table is a metadata change: run it as written",
}


class ShadowRefused(MigrationError):
    """The shadow strategy cannot run this change safely; nothing was started."""


class ShadowFailed(MigrationError):
    """A phase could not finish (the cut-over never found a window, a batch kept differing)."""


@dataclass(frozen=True)
class Column:
    type: str  # as the server prints it (format_type / COLUMN_TYPE)
    generated: bool = False  # computed by the server: never written
    required: bool = False  # NOT NULL without a default: an insert must give it


@dataclass
class Shadow:
    """Everything the SQL of one shadow change needs, read from the catalog (`Shadow.read`)."""

    table: str
    key: list[str]
    old_columns: dict[str, Column]
    new_columns: dict[str, Column] = field(default_factory=dict)
    using: dict[str, str] = field(default_factory=dict)  # new column -> expression over the old row (USING)
    target: str | None = None  # where the copy goes, when not `_mm_new_<t>` (the reverse verify's old table)

    @property
    def new(self) -> str:
        return self.target or shadow_name(NEW, self.table)

    @property
    def old(self) -> str:
        return shadow_name(OLD, self.table)

    @property
    def spare(self) -> str:
        return shadow_name(SPARE, self.table)

    @property
    def forward(self) -> list[str]:
        """The columns copied from old to new: in both, written by us (added columns take their defaults)."""
        return [c for c, col in self.new_columns.items() if not col.generated and c in self.old_columns]

    @property
    def backward(self) -> list[str]:
        """The columns the reverse triggers put back into the old table."""
        return [c for c, col in self.old_columns.items() if not col.generated and c in self.new_columns]

    @property
    def changed(self) -> dict[str, str]:
        """Copied columns whose type changed: column -> new type (the checksum compares them as the new type)."""
        return {
            c: self.new_columns[c].type
            for c in self.forward
            if c in self.using or self.new_columns[c].type != self.old_columns[c].type
        }


@dataclass
class ShadowReport:
    table: str
    phase: Phase
    rows_copied: int = 0
    rows_verified: int = 0
    batches_recopied: int = 0
    cutover_tries: int = 0
    cutover_waited_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def shadow_name(prefix: str, table: str, limit: int = MAX_NAME) -> str:
    """`prefix + table`, or a shortened form with a hash when that is longer than the server allows."""
    name = prefix + table
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(table.encode()).hexdigest()[:8]
    return f"{prefix}{table[: limit - len(prefix) - 9]}_{digest}"


def parse_alter(statement: str) -> tuple[str, str]:
    """(the table's name as written, the ALTER's actions as written). Raises ShadowRefused for anything else."""
    found = _ALTER.match(statement)
    if not found:
        raise ShadowRefused(
            "The shadow strategy runs one ALTER TABLE on a copy of the table; this statement is not one.",
            next_step="Run the statement with the offline or online strategy.",
        )
    name = found["name"]
    if re.search(r"[\"`\w$]\s*\.\s*[\"`\w]", name):
        raise ShadowRefused(
            f"The shadow strategy works on tables of the connection's schema; {name} is qualified.",
            next_step="Set the schema in the environment's URL and name the table alone.",
        )
    return name, found["actions"]


def refusals(engine: Engine, statement: str) -> list[str]:
    """Why the shadow strategy cannot run `statement` (empty: it can). Reads the catalog, changes nothing."""
    from ..analysis.operations import statement_operations

    table, _ = parse_alter(statement)
    reasons = [why for op in statement_operations(statement, engine.dialect) if (why := _REFUSED_KINDS.get(op.kind))]
    sql = dialect_part(engine.dialect, "shadow")
    table = sql.stored_name(engine, table)
    if phase(engine, table) != "none":
        return reasons  # resuming: the leftovers are ours
    return reasons + sql.refusals(engine, table)


def phase(engine: Engine, table: str) -> Phase:
    """Where a shadow change of `table` stands, read from the triggers that exist."""
    return dialect_part(engine.dialect, "shadow").phase(engine, table)


def read(engine: Engine, table: str, statement: str) -> Shadow:
    """The Shadow of `table` as the catalog holds it now (the new table's columns once it exists)."""
    from ..analysis.operations import statement_operations

    sql = dialect_part(engine.dialect, "shadow")
    shadow = Shadow(table, sql.key_columns(engine, table), sql.columns(engine, table))
    if engine.table_exists(shadow.new):
        shadow.new_columns = sql.columns(engine, shadow.new)
    if statement:
        ops = statement_operations(statement, engine.dialect)
        shadow.using = {op.column: op.using for op in ops if op.using and op.column}
    if phase(engine, table) == "swapped":  # the names moved: the table is the new one
        shadow.old_columns, shadow.new_columns = sql.columns(engine, shadow.old), sql.columns(engine, table)
    return shadow


def start(
    engine: Engine,
    statement: str,
    *,
    policy: BatchPolicy | None = None,
    checkpoint: Checkpoint | None = None,
    record: Callable[[Checkpoint], None] = lambda _c: None,
    progress: Callable[[str, BatchProgress], None] = lambda _what, _p: None,
    cutover: CutoverPolicy | None = None,
) -> ShadowReport:
    """Run the ALTER `statement` through a shadow copy up to and including the swap; resumable after a kill."""
    sql = dialect_part(engine.dialect, "shadow")
    table = sql.stored_name(engine, parse_alter(statement)[0])
    now, cutover = phase(engine, table), cutover or CutoverPolicy()
    report = ShadowReport(table, "copying")
    if now == "swapped":  # a kill may have cut the steps after the swap short; they are idempotent
        _after_swap(engine, read(engine, table, statement), policy, progress, report)
        return ShadowReport(table, "swapped", notes=["already swapped: `complete` drops the old table"])
    if now == "none":
        if why := refusals(engine, statement):
            raise ShadowRefused(
                f"The shadow strategy cannot change {table}: " + "; ".join(why) + ".",
                state="Nothing was started.",
                next_step="Run this migration with the offline strategy, or change what is refused first.",
            )
        sql.undo(
            engine, Shadow(table, [], {}), cutover.lock_timeout_ms
        )  # a half-created copy of a killed run (no triggers yet): start over
        shadow, actions = read(engine, table, statement), parse_alter(statement)[1]
        # Creating a trigger locks the table briefly too (against writes): the same care as the swap.
        create = partial(_create, sql, actions)
        _cut_over(engine, shadow, cutover, report, create, "trigger creation", progress)
    shadow = read(engine, table, statement)
    _refuse_unsyncable(engine, shadow)
    policy = policy or BatchPolicy(target_s=sql.COPY_BATCH_S)
    report.rows_copied = _copy(engine, shadow, policy, checkpoint or Checkpoint(), record, progress)
    _verify(engine, shadow, policy, progress, report)
    sql.after_copy(engine, shadow)
    _cut_over(engine, shadow, cutover, report, sql.swap, "swap", progress)
    _after_swap(engine, shadow, policy, progress, report)
    report.phase = "swapped"
    return report


def _after_swap(engine, shadow: Shadow, policy, progress, report: ShadowReport) -> None:
    """The dialect's steps after the rename; where the reverse triggers came after it, the writes made in between
    are copied back by a verify of the old table against the new one."""
    sql = dialect_part(engine.dialect, "shadow")
    sql.after_swap(engine, shadow)
    if sql.SWAP_LEAVES_GAP:
        _verify(engine, _reversed(shadow), policy, lambda what, p: progress("verify back", p), report)


def _reversed(shadow: Shadow) -> Shadow:
    """The swapped change seen from the new table: its rows copied and compared into the old one."""
    return Shadow(shadow.table, shadow.key, shadow.new_columns, shadow.old_columns, target=shadow.old)


def _create(sql, actions: str, engine: Engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    sql.create(engine, shadow, actions, lock_timeout_ms)


def complete(engine: Engine, table: str, cutover: CutoverPolicy | None = None) -> bool:
    """Drop the reverse triggers and the old table of a swapped change. False when there was nothing to drop."""
    if phase(engine, table) != "swapped":
        return False
    sql = dialect_part(engine.dialect, "shadow")
    shadow = Shadow(table, [], {})
    _cut_over(engine, shadow, cutover or CutoverPolicy(), ShadowReport(table, "swapped"), sql.drop_old, "complete")
    return True


def rollback(engine: Engine, table: str, cutover: CutoverPolicy | None = None) -> Phase:
    """Undo a shadow change: before the swap, drop the copy and its triggers; after it, swap back (the old table
    has every write made since) and drop the new table. Returns the phase it found."""
    found = phase(engine, table)
    sql = dialect_part(engine.dialect, "shadow")
    if found == "swapped":
        shadow = Shadow(table, sql.key_columns(engine, table), sql.columns(engine, shadow_name(OLD, table)))
        shadow.new_columns = sql.columns(engine, table)
        if sql.SWAP_LEAVES_GAP:  # a run killed before its reverse verify: the old table may lack a few writes
            _after_swap(engine, shadow, None, lambda _w, _p: None, ShadowReport(table, found))
        _cut_over(engine, shadow, cutover or CutoverPolicy(), ShadowReport(table, found), sql.swap_back, "swap back")
        sql.after_swap_back(engine, shadow)
    else:
        _cut_over(
            engine, Shadow(table, [], {}), cutover or CutoverPolicy(), ShadowReport(table, found), sql.undo, "undo"
        )
    return found


@dataclass(frozen=True)
class Leftover:
    table: str
    phase: Phase
    objects: list[str]
    clears: str


def leftovers(engine: Engine) -> list[Leftover]:
    """Shadow copies, old tables and triggers of unfinished shadow changes, with the command that clears each."""
    found = []
    for table, objects in dialect_part(engine.dialect, "shadow").leftovers(engine).items():
        now = phase(engine, table)
        clears = (
            "`db-migrate complete VERSION` drops the old table (or `db-migrate rollback` swaps back)"
            if now == "swapped"
            else "`db-migrate apply` resumes the copy (or `db-migrate rollback` drops it)"
        )
        found.append(Leftover(table, now, objects, clears))
    return found


def _refuse_unsyncable(engine: Engine, shadow: Shadow) -> None:
    """Keys must match (rows are paired by key), and the reverse triggers must be able to write the old table."""
    new_key = dialect_part(engine.dialect, "shadow").key_columns(engine, shadow.new)
    lost = [c for c, col in shadow.old_columns.items() if col.required and c not in shadow.new_columns]
    why = []
    if new_key != shadow.key:
        why.append(f"the primary key changes ({', '.join(shadow.key)} -> {', '.join(new_key) or 'none'})")
    if lost:
        why.append(
            f"dropped NOT NULL column(s) without a default ({', '.join(lost)}): rows written after the swap "
            "could not go back to the old table"
        )
    if why:
        undo = dialect_part(engine.dialect, "shadow").undo
        _cut_over(engine, shadow, CutoverPolicy(), ShadowReport(shadow.table, "copying"), undo, "undo")
        raise ShadowRefused(
            f"The shadow strategy cannot change {shadow.table}: " + "; ".join(why) + ".",
            state="Nothing changed: the copy that showed it was dropped.",
            next_step="Run this migration with the offline strategy (or drop the NOT NULL first).",
        )


def _copy(engine, shadow, policy, checkpoint, record, progress) -> int:
    sql = dialect_part(engine.dialect, "shadow")
    quoted = sql.quote(shadow.table)
    key = [sql.quote(c) for c in shadow.key]
    total = engine.table_stats(shadow.table).rows
    with sql.copying(engine):
        done = run_in_batches(
            engine,
            range_step(
                engine, quoted, key, lambda where, params: sql.copy_range(engine, shadow, where, params), sql.COPY_LOCKS
            ),
            table=shadow.table,
            start=checkpoint,
            total=total,
            signals=signals_for(engine),
            record=record,
            policy=policy,
            progress=lambda p: progress("copy", p),
        )
    return done.rows


def _verify(engine, shadow, policy, progress, report: ShadowReport, rounds: int = 3) -> None:
    """Compare old and new batch by batch, then copy each differing batch again and compare it again (only it: the
    triggers keep the others equal); give up after `rounds` tries of a batch that keeps differing."""
    sql = dialect_part(engine.dialect, "shadow")
    differing: list[tuple[str, list[Any]]] = []

    def compare(where: str, params: list[Any]) -> int:
        rows, same = sql.checksums(engine, shadow, where, params)
        if not same:
            differing.append((where, list(params)))
        return rows

    report.rows_verified = _compare_all(engine, shadow, policy, progress, compare)
    for _round in range(rounds):
        if not differing:
            return
        report.batches_recopied += len(differing)
        again, last = list(differing), list(differing)
        differing.clear()
        with sql.copying(engine):
            for where, params in again:
                with engine.transaction():
                    sql.recopy_range(engine, shadow, where, params)
        for where, params in again:
            with engine.transaction():  # one snapshot for both tables (REPEATABLE READ on MariaDB)
                compare(where, params)
    if not differing:
        return
    raise ShadowFailed(
        f"The copy of {shadow.table} still differed from the table after {rounds} copies of the differing batches "
        f"(last in: {'; '.join(f'{where} {params}' for where, params in last[:3])}).",
        state=f"The table is unchanged; the copy {shadow.new} and its triggers are in place.",
        next_step="Run apply again to resume (the copy is verified again), or roll the migration back to drop it.",
    )


def _compare_all(engine, shadow: Shadow, policy, progress, compare) -> int:
    """One pass over every key range (the batches, then the rows beyond the table's last key, in no batch when the
    last batch ended on that key); returns the rows compared."""
    sql = dialect_part(engine.dialect, "shadow")
    key = [sql.quote(c) for c in shadow.key]
    done = run_in_batches(
        engine,
        range_step(engine, sql.quote(shadow.table), key, compare),
        table=shadow.table,
        start=Checkpoint(),
        total=engine.table_stats(shadow.table).rows,
        signals=signals_for(engine),
        record=lambda _c: None,
        policy=policy,
        progress=lambda p: progress("verify", p),
    )
    where, params = (key_after(key, engine.param), list(done.after)) if done.after is not None else ("1 = 1", [])
    with engine.transaction():
        return done.rows + compare(where, params)


@dataclass(frozen=True)
class CutoverPolicy:
    """How the renames wait for their lock: never long (every writer queues behind a waiting rename)."""

    lock_timeout_ms: int = SWAP_LOCK_TIMEOUT_MS
    tries: int = 20
    first_pause_s: float = 0.2  # backoff doubles up to max_pause_s, with jitter (Reshape, pgroll)
    max_pause_s: float = 3.0
    long_transaction_s: float = 1.0  # a transaction on the table open this long: wait for it to end first
    max_wait_s: float = 120.0


def _cut_over(engine, shadow, policy: CutoverPolicy, report: ShadowReport, action, what: str, progress=None) -> None:
    """Wait for a quiet lock queue, then run `action(engine, shadow, lock_timeout_ms)`; a lock timeout is retried
    after a pause that grows with jitter."""
    sql = dialect_part(engine.dialect, "shadow")
    began, pause = time.monotonic(), policy.first_pause_s
    blockers: list[str] = []
    for attempt in range(1, policy.tries + 1):
        blockers = sql.long_transactions(engine, shadow, policy.long_transaction_s)
        if progress:
            waiting = f"waiting for {len(blockers)} open transaction(s)" if blockers else None
            progress(what, BatchProgress(attempt, policy.tries, 0, waiting))
        if not blockers:
            report.cutover_tries = attempt
            try:
                action(engine, shadow, policy.lock_timeout_ms)
                report.cutover_waited_s = time.monotonic() - began
                return
            except Exception as exc:
                if not sql.gave_up_waiting(engine, exc):
                    raise
        if time.monotonic() - began > policy.max_wait_s:
            break
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, policy.max_pause_s)
    raise ShadowFailed(
        f"The {what} of {shadow.table} found no window in {time.monotonic() - began:.0f} s ({policy.tries} tries)"
        + (f"; open transactions on it: {'; '.join(blockers)}" if blockers else "; the lock stayed taken")
        + ".",
        state="Nothing of this step changed; the copy stays in sync through its triggers.",
        next_step="Run the same command again when the table is quieter, or end the long transactions.",
    )
