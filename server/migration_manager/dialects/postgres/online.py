"""PostgreSQL's side of the online strategies: the throttle signals the batches read between batches."""

from __future__ import annotations

from ...strategies.batches import SignalUnreadable
from ..base import Engine


class Signals:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replica_lag_s(self) -> float:
        # pg_stat_replication shows a role without pg_monitor its rows with the columns NULL: count those as
        # unreadable (fail closed) rather than as "no lag". replay_lag is NULL on an idle, caught-up replica.
        rows, readable, lag = self.engine.query(
            "SELECT count(*), count(state), COALESCE(max(EXTRACT(EPOCH FROM replay_lag)), 0) FROM pg_stat_replication"
        )[0]
        if rows != readable:
            raise SignalUnreadable("pg_stat_replication hides replica lag from this role: grant it pg_monitor")
        return float(lag)

    def threads_running(self) -> int:
        return int(
            self.engine.query(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )[0][0]
        )

    def lock_waiters(self, table: str) -> int:
        # Row-lock waits show as waits on a transaction id, a table-lock wait on the relation: a session blocked
        # by anyone holding locks on the table, or waiting for the table itself.
        return int(
            self.engine.query(
                "SELECT count(*) FROM pg_stat_activity a WHERE a.wait_event_type = 'Lock' AND EXISTS ("
                "SELECT 1 FROM pg_locks l WHERE l.pid = ANY(pg_blocking_pids(a.pid)) AND l.relation = to_regclass(%s))",
                [table],
            )[0][0]
        )
