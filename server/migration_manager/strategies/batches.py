"""Work on a big table in primary-key batches: the online strategy's backfill and the shadow strategy's copy.

The loop owns what every batched change needs and nothing about what a batch does:
* each batch commits on its own, with its checkpoint (`record`) in the same transaction, so a killed run resumes
  after the last batch that committed and never redoes or skips one;
* the batch size adapts to a target time per batch (100 ms; Spirit's 500 ms, pt-online-schema-change's --chunk-time):
  short enough that the row locks a batch holds never stall the application's writes for long;
* between batches it throttles on replication lag, load and lock waits (`Signals`), and fails closed: a signal
  that cannot be read stops the run (Spirit's throttler failed open when lag was unreadable, #1035);
* a batch that hits the lock timeout is rolled back, halved and tried again after a pause (pt-osc: 10 x 0.25 s).

A batch is a function `step(after, size) -> (last_key, rows)`: it works on at most `size` rows whose key is
above `after` (None: from the start) and returns the last key it reached (None: nothing was left) and how many
rows it changed. `key_range_sql` gives the statements that find such a range in key order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from ..dialects.base import Engine
from ..errors import MigrationError

Key = tuple[Any, ...]
Step = Callable[[Key | None, int], tuple[Key | None, int]]


class SignalUnreadable(Exception):
    """A throttle signal could not be read (a replica unreachable, a privilege missing): the batches hold back, and
    stop at once when `lasting` (waiting would not help: a missing privilege)."""

    def __init__(self, why: str, lasting: bool = False) -> None:
        super().__init__(why)
        self.lasting = lasting


class Signals(Protocol):
    """What the server says about its health between batches (dialects/<db>/online.py builds one)."""

    def replica_lag_s(self) -> float:
        """The worst replica's lag in seconds (0.0 without replicas). Raises SignalUnreadable."""

    def threads_running(self) -> int:
        """Sessions running a statement right now, ours excluded. Raises SignalUnreadable."""

    def lock_waiters(self, table: str) -> int:
        """Sessions waiting for a lock on `table` right now (what our batches may be holding up)."""


@dataclass
class BatchPolicy:
    """How big, how fast and when to hold back. Defaults follow the tools users trust (online-change.md)."""

    # Wanted time per batch. A write to a row of the running batch waits for its commit, so this is the stall a
    # writer can meet: measured under a writer (bench_online.py), 300 ms (Spirit's 500 ms, pt-osc's --chunk-time
    # 0.5) gave p99 ~90 ms; 100 ms keeps p99 under 50 ms at the same rows/s.
    target_s: float = 0.1
    first_size: int = 1000  # pgroll, Reshape, gh-ost, pg-osc all start at 1,000 rows
    min_size: int = 10
    max_size: int = 50_000
    max_replica_lag_s: float = 1.5  # gh-ost --max-lag-millis 1500
    max_threads_running: int = 25  # pt-osc --max-load Threads_running=25
    pause_s: float = 0.25  # sleep while throttled, and after a lock timeout
    max_wait_s: float = 600.0  # a throttle that never clears stops the run
    lock_retries: int = 10  # a batch that keeps hitting the lock timeout stops the run

    def next_size(self, size: int, took_s: float) -> int:
        """Aim the next batch at target_s from the last one's rate, changing by at most x2 / ÷2 per batch."""
        if took_s <= 0:
            return min(size * 2, self.max_size)
        wanted = int(size * self.target_s / took_s)
        return max(self.min_size, min(self.max_size, size * 2, max(size // 2, wanted)))


@dataclass
class Checkpoint:
    """Where a batched job stands; `as_text` is what the history row keeps between runs."""

    after: Key | None = None  # the last key done (None: nothing yet)
    rows: int = 0
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # the caller's own position (e.g. which backfill)

    def as_text(self) -> str:
        return json.dumps({"after": self.after, "rows": self.rows, "done": self.done, **self.extra}, default=str)

    @classmethod
    def from_text(cls, text: str | None) -> Checkpoint:
        if not text:
            return cls()
        data = json.loads(text)
        after = data.pop("after", None)
        return cls(tuple(after) if after is not None else None, data.pop("rows", 0), data.pop("done", False), data)


class ThrottleTimeout(MigrationError):
    """The server stayed too busy (or a signal stayed unreadable) for longer than the policy waits."""


@dataclass
class BatchProgress:
    rows: int
    total: int  # an estimate (catalog statistics): rows may exceed it
    size: int  # the current batch size
    throttled: str | None = None  # why the loop is holding back right now


def run_in_batches(
    engine: Engine,
    step: Step,
    *,
    table: str,
    start: Checkpoint,
    total: int,
    signals: Signals,
    record: Callable[[Checkpoint], None],
    policy: BatchPolicy | None = None,
    progress: Callable[[BatchProgress], None] = lambda _p: None,
    stop_if_asked: Callable[[], None] = lambda: None,
) -> Checkpoint:
    """Run `step` batch after batch from `start` until it reports nothing left; return the final checkpoint.

    Each batch and `record(checkpoint)` commit together. Raises ThrottleTimeout, or the batch's own error."""
    policy = policy or BatchPolicy()
    at, size = start, policy.first_size
    while not at.done:
        stop_if_asked()
        _wait_until_clear(signals, table, policy, partial(_held_back, progress, at.rows, total, size))
        began = time.monotonic()
        at = _one_batch(engine, step, table, at, size, record, policy)
        size = policy.next_size(size, time.monotonic() - began)
        progress(BatchProgress(at.rows, max(total, at.rows), size))
    return at


def _held_back(progress: Callable[[BatchProgress], None], rows: int, total: int, size: int, why: str) -> None:
    progress(BatchProgress(rows, max(total, rows), size, why))


def _one_batch(
    engine: Engine,
    step: Step,
    table: str,
    at: Checkpoint,
    size: int,
    record: Callable[[Checkpoint], None],
    policy: BatchPolicy,
) -> Checkpoint:
    for _attempt in range(policy.lock_retries):
        try:
            with engine.transaction():
                last, rows = step(at.after, size)
                reached = Checkpoint(last if last is not None else at.after, at.rows + rows, last is None, at.extra)
                record(reached)
            return reached
        except Exception as exc:
            if not engine.is_lock_timeout(exc):
                raise
            size = max(policy.min_size, size // 2)  # fewer rows: a shorter wait for whoever holds the lock
            time.sleep(policy.pause_s)
    raise ThrottleTimeout(
        f"A batch on {table} gave up waiting for row locks {policy.lock_retries} times in a row.",
        state=f"Every batch before it is committed ({at.rows} rows); the position is recorded.",
        next_step="Run the same command again when the table is quieter: it resumes from the recorded position.",
    )


def _wait_until_clear(signals: Signals, table: str, policy: BatchPolicy, report: Callable[[str], None]) -> None:
    """Sleep while the server is busy; raise ThrottleTimeout once max_wait_s passes without a clear reading."""
    waited = 0.0
    while (why := _busy(signals, table, policy)) is not None:
        if waited >= policy.max_wait_s:
            raise ThrottleTimeout(
                f"The batches on {table} held back for {waited:.0f} s: {why}.",
                state="Every batch so far is committed and its position recorded; nothing is half done.",
                next_step="Run the same command again when the server is quieter (it resumes), or fix the signal.",
            )
        report(why)
        time.sleep(policy.pause_s)
        waited += policy.pause_s


def _busy(signals: Signals, table: str, policy: BatchPolicy) -> str | None:
    """Why to hold back now, or None. An unreadable signal is a reason too (fail closed)."""
    try:
        lag = signals.replica_lag_s()
        if lag > policy.max_replica_lag_s:
            return f"replica lag {lag:.1f} s > {policy.max_replica_lag_s} s"
        running = signals.threads_running()
        if running > policy.max_threads_running:
            return f"{running} sessions running > {policy.max_threads_running}"
        waiting = signals.lock_waiters(table)
        if waiting:
            return f"{waiting} session(s) waiting for a lock on {table}"
    except SignalUnreadable as exc:
        if exc.lasting:
            raise ThrottleTimeout(
                f"The batches on {table} cannot read a throttle signal: {exc}.",
                state="Every batch so far is committed and its position recorded; nothing is half done.",
                next_step="Give the migration's database user what the message names, then run the same command "
                "again: it resumes.",
            ) from None
        return f"a throttle signal cannot be read ({exc})"
    return None


def key_after(columns: Sequence[str], param: str) -> str:
    """`key > (given key)` for a key of one or more (quoted) columns: a row comparison keeps composite keys in
    order on PostgreSQL and MariaDB, and both use the primary key's index for it."""
    if len(columns) == 1:
        return f"{columns[0]} > {param}"
    return f"({', '.join(columns)}) > ({', '.join([param] * len(columns))})"


def key_at_most(columns: Sequence[str], param: str) -> str:
    if len(columns) == 1:
        return f"{columns[0]} <= {param}"
    return f"({', '.join(columns)}) <= ({', '.join([param] * len(columns))})"


def range_step(
    engine: Engine, table: str, key: Sequence[str], run_range: Callable[[str, list[Any]], int], locking: str = ""
) -> Step:
    """A Step over `table`'s rows in key order, up to the last key the table had when the first batch ran: find
    the batch's last key (one index range read), then `run_range(where, params)` does the work on the rows `where`
    selects and returns how many it changed. `table` and `key` are quoted names.

    Rows inserted after the first batch are not visited: the caller makes sure they need nothing (the backfill's
    column has its DEFAULT by then, the shadow copy's trigger carries them), so the batches never chase a writer's
    inserts (measured: an append-heavy writer kept a 200k-row backfill going for as long as it wrote).
    `locking` ends the read that finds the batch's last key (the shadow copy's ` LOCK IN SHARE MODE` on MariaDB:
    that read then takes the batch's row locks too)."""
    columns, descending = ", ".join(key), ", ".join(f"{c} DESC" for c in key)
    state: dict[str, Any] = {}  # "end": the last key when the first batch ran; "reached": the batches got there

    def step(after: Key | None, size: int) -> tuple[Key | None, int]:
        if "end" not in state:
            found = engine.query(f"SELECT {columns} FROM {table} ORDER BY {descending} LIMIT 1")
            state["end"] = tuple(found[0]) if found else None
        if state["end"] is None or state.get("reached"):
            return None, 0
        above, low = (f"{key_after(key, engine.param)} AND ", list(after)) if after is not None else ("", [])
        up_to = f"{above}{key_at_most(key, engine.param)}"
        bound = engine.query(
            f"SELECT {columns} FROM {table} WHERE {up_to} ORDER BY {columns} LIMIT 1 OFFSET {int(size) - 1}{locking}",
            [*low, *state["end"]],
        )
        last = tuple(bound[0]) if bound else state["end"]
        state["reached"] = not bound
        return last, run_range(up_to, [*low, *last])

    return step


def signals_for(engine: Engine, replicas: Sequence[Engine] = ()) -> Signals:
    """The server's throttle signals (dialects/<db>/online.py); `replicas` where the server cannot see them."""
    from ..dialects import dialect_part

    online = dialect_part(engine.dialect, "online")
    return online.Signals(engine, replicas) if replicas else online.Signals(engine)
