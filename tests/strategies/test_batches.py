"""The batched loop on the real servers: every row once, in key order, resumable from its checkpoint, held back
while a signal says so and stopped when one cannot be read."""

from __future__ import annotations

import pytest

from dbcheck import execute, query
from migration_manager.dialects import open_engine
from migration_manager.strategies.batches import (
    BatchPolicy,
    Checkpoint,
    SignalUnreadable,
    ThrottleTimeout,
    range_step,
    run_in_batches,
    signals_for,
)


class Quiet:
    """A server with nothing to hold back for (the real signals are read in test_signals_read_on_server)."""

    def replica_lag_s(self) -> float:
        return 0.0

    def threads_running(self) -> int:
        return 0

    def lock_waiters(self, table: str) -> int:
        return 0


class Lagging(Quiet):
    def __init__(self, readings: list[float | Exception]) -> None:
        self.readings = readings

    def replica_lag_s(self) -> float:
        reading = self.readings.pop(0) if self.readings else 0.0
        if isinstance(reading, Exception):
            raise reading
        return reading


def _table(url: str, rows: int) -> None:
    execute(url, "CREATE TABLE items (a INT NOT NULL, b INT NOT NULL, n INT, PRIMARY KEY (a, b))")
    values = ", ".join(f"({i // 7}, {i % 7}, NULL)" for i in range(rows))
    execute(url, f"INSERT INTO items (a, b, n) VALUES {values}")


def _backfill(engine, recorded: list[Checkpoint], start: Checkpoint | None = None, signals=None, policy=None):
    def fill(where: str, params: list) -> int:
        return engine.execute(f"UPDATE items SET n = a * 10 + b WHERE {where} AND n IS NULL", params)

    return run_in_batches(
        engine,
        range_step(engine, "items", ["a", "b"], fill),
        table="items",
        start=start or Checkpoint(),
        total=2000,
        signals=signals or Quiet(),
        record=recorded.append,
        policy=policy or BatchPolicy(first_size=100),
    )


def test_every_row_is_filled_once_in_key_order(server_url: str) -> None:
    _table(server_url, 2000)
    engine = open_engine(server_url)
    recorded: list[Checkpoint] = []
    try:
        final = _backfill(engine, recorded)
    finally:
        engine.close()
    assert final.done and final.rows == 2000
    assert query(server_url, "SELECT count(*) FROM items WHERE n IS NULL OR n <> a * 10 + b") == [(0,)]
    keys = [c.after for c in recorded]
    assert keys == sorted(keys) and len(recorded) >= 3  # one checkpoint per batch, moving forward


def test_a_stopped_run_resumes_after_its_last_checkpoint(server_url: str) -> None:
    _table(server_url, 2000)
    engine = open_engine(server_url)
    recorded: list[Checkpoint] = []

    class Stop(Exception):
        pass

    def stop_after_three() -> None:
        if len(recorded) == 3:
            raise Stop

    try:
        with pytest.raises(Stop):
            run_in_batches(
                engine,
                range_step(
                    engine, "items", ["a", "b"], lambda w, p: engine.execute(f"UPDATE items SET n = -1 WHERE {w}", p)
                ),
                table="items",
                start=Checkpoint(),
                total=2000,
                signals=Quiet(),
                record=recorded.append,
                policy=BatchPolicy(first_size=100),
                stop_if_asked=stop_after_three,
            )
        done_before = query(server_url, "SELECT count(*) FROM items WHERE n = -1")[0][0]
        assert done_before == recorded[-1].rows
        resumed: list[Checkpoint] = []
        final = run_in_batches(
            engine,
            range_step(
                engine, "items", ["a", "b"], lambda w, p: engine.execute(f"UPDATE items SET n = -2 WHERE {w}", p)
            ),
            table="items",
            start=Checkpoint.from_text(recorded[-1].as_text()),
            total=2000,
            signals=Quiet(),
            record=resumed.append,
        )
    finally:
        engine.close()
    # The rows done before the stop are not done again; the others are done once.
    assert query(server_url, "SELECT n, count(*) FROM items GROUP BY n ORDER BY n") == [
        (-2, 2000 - done_before),
        (-1, done_before),
    ]
    assert final.rows == 2000


def test_lag_holds_the_batches_back_until_it_clears(server_url: str) -> None:
    _table(server_url, 300)
    engine = open_engine(server_url)
    signals = Lagging([5.0, 5.0, 0.2])
    try:
        final = _backfill(engine, [], signals=signals, policy=BatchPolicy(first_size=100, pause_s=0.01))
    finally:
        engine.close()
    assert final.done and signals.readings == []


def test_an_unreadable_signal_stops_the_batches_with_nothing_half_done(server_url: str) -> None:
    _table(server_url, 300)
    engine = open_engine(server_url)
    recorded: list[Checkpoint] = []
    signals = Lagging([0.0, *[SignalUnreadable("no privilege")] * 10])
    policy = BatchPolicy(first_size=100, pause_s=0.01, max_wait_s=0.03)
    try:
        with pytest.raises(ThrottleTimeout, match="cannot be read .no privilege"):
            _backfill(engine, recorded, signals=signals, policy=policy)
    finally:
        engine.close()
    assert [c.rows for c in recorded] == [100]
    assert query(server_url, "SELECT count(*) FROM items WHERE n IS NOT NULL") == [(100,)]


def test_signals_read_on_server(server_url: str) -> None:
    _table(server_url, 10)
    engine = open_engine(server_url)
    try:
        signals = signals_for(engine)
        assert signals.replica_lag_s() == 0.0  # no replica here
        assert signals.threads_running() >= 0
        assert signals.lock_waiters("items") == 0
    finally:
        engine.close()


def test_batch_size_follows_the_target_time() -> None:
    policy = BatchPolicy(target_s=0.3)
    assert policy.next_size(1000, 0.1) == 2000  # fast: grows, at most doubling
    assert policy.next_size(1000, 0.6) == 500  # slow: shrinks to the target
    assert policy.next_size(1000, 30.0) == 500  # at most halving
    assert policy.next_size(40_000, 0.01) == policy.max_size
