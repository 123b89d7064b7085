"""MariaDB/MySQL's side of the online strategies: the throttle signals the batches read between batches."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...strategies.batches import SignalUnreadable
from ..base import Engine
from . import DIALECT


class Signals:
    """`replicas`: engines connected to the replicas to watch (a primary does not know its replicas' lag)."""

    def __init__(self, engine: Engine, replicas: Sequence[Engine] = ()) -> None:
        self.engine = engine
        self.replicas = replicas

    def replica_lag_s(self) -> float:
        return max((self._lag(replica) for replica in self.replicas), default=0.0)

    @staticmethod
    def _lag(replica: Engine) -> float:
        try:
            with replica.conn.cursor() as cursor:  # the status is read by column name: its position varies by version
                cursor.execute("SHOW SLAVE STATUS")
                names, rows = [d[0] for d in cursor.description or ()], cursor.fetchall()
        except Exception as exc:  # any failure to read is a reason to stop (fail closed)
            raise SignalUnreadable(f"SHOW SLAVE STATUS on a replica failed: {exc}") from exc
        if not rows:
            raise SignalUnreadable("a configured replica replicates from nothing (SHOW SLAVE STATUS is empty)")
        lag = rows[0][names.index("Seconds_Behind_Master")]
        if lag is None:  # replication stopped or broken: its lag is unknown, not zero
            raise SignalUnreadable("a replica's Seconds_Behind_Master is NULL (replication not running)")
        return float(lag)

    def threads_running(self) -> int:
        try:
            running = self.engine.query("SHOW GLOBAL STATUS LIKE 'Threads_running'")[0][1]
        except Exception as exc:  # fail closed
            raise SignalUnreadable(f"Threads_running cannot be read: {exc}") from exc
        return int(running) - 1  # this session's own SHOW

    def lock_waiters(self, table: str) -> int:
        # InnoDB row-lock waits on the table (needs the PROCESS privilege: without it the table reads empty).
        name = f"`{self.engine.url.database}`.`{table.strip('`')}`"
        try:
            found = self.engine.query(
                "SELECT count(*) FROM information_schema.INNODB_LOCK_WAITS w JOIN information_schema.INNODB_LOCKS l "
                "ON l.lock_id = w.requested_lock_id WHERE l.lock_table = %s",
                [name],
            )
        except Exception as exc:  # 1227 without the PROCESS privilege: the lock waits are unknown, not zero
            raise SignalUnreadable(
                f"InnoDB's lock waits need the PROCESS privilege ({' '.join(str(exc).split())[:200]})", lasting=True
            ) from exc
        return int(found[0][0])


# ---- the SQL of the online playbooks (names come quoted) ------------------------------------------------------
quote = DIALECT.quote


# LOCK=NONE on every ALTER: the server picks INSTANT or INPLACE, and refuses rather than block writes.
def add_nullable_column(table: str, column: str, type_sql: str) -> str:
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type_sql} NULL, LOCK=NONE"


def set_default(table: str, column: str, default: str) -> str:
    return f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}, LOCK=NONE"


def guard_not_null(table: str, column: str, check: str) -> list[str]:
    return []  # a CHECK constraint copies the table on MariaDB (ALGORITHM=COPY): complete backfills again instead


def enforce_not_null(table: str, column: str, type_sql: str, default: str | None, check: str) -> list[str]:
    # NULL -> NOT NULL is an in-place rebuild that lets writes go on (proven: LOCK=NONE is accepted).
    default_sql = f" DEFAULT {default}" if default is not None else ""
    return [f"ALTER TABLE {table} MODIFY {column} {type_sql} NOT NULL{default_sql}, LOCK=NONE"]


def drop_column(table: str, column: str) -> str:
    return f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}, LOCK=NONE"


def without_blocking(sql: str) -> str:
    """An ALTER TABLE / CREATE INDEX that must not block writes: the server refuses it rather than copy."""
    body = sql.rstrip().rstrip(";")
    if re.search(r"\bLOCK\s*=", body, re.IGNORECASE):
        return body
    if re.match(r"\s*CREATE\b", body, re.IGNORECASE):
        return f"{body} LOCK=NONE"
    return f"{body}, LOCK=NONE"


def converted(expression: str, type_sql: str) -> str:
    return expression  # assigning to the typed column converts (strict mode refuses what does not fit)


def sync_triggers(table: str, trigger: str, old: str, new: str, type_sql: str, both_ways: bool) -> list[str]:
    """BEFORE INSERT and BEFORE UPDATE triggers keeping column `new` equal to `old` (and `old` to `new` when both
    ways: whichever the writer changed wins). `trigger` is unquoted; the two are named `<trigger>_i` / `_u`."""
    if both_ways:
        on_insert = f"IF NEW.{new} IS NULL THEN SET NEW.{new} = NEW.{old}; ELSE SET NEW.{old} = NEW.{new}; END IF;"
        on_update = (
            f"IF NOT (NEW.{old} <=> OLD.{old}) THEN SET NEW.{new} = NEW.{old}; "
            f"ELSEIF NOT (NEW.{new} <=> OLD.{new}) THEN SET NEW.{old} = NEW.{new}; END IF;"
        )
    else:
        on_insert = on_update = f"SET NEW.{new} = NEW.{old};"
    statements = []
    for suffix, event, body in (("_i", "INSERT", on_insert), ("_u", "UPDATE", on_update)):
        name = quote(trigger + suffix)
        statements += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW BEGIN {body} END",
        ]
    return statements


def drop_sync_triggers(table: str, trigger: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {quote(trigger + suffix)}" for suffix in ("_i", "_u")]


def swap_column(table: str, old: str, new: str) -> str:
    return f"ALTER TABLE {table} DROP COLUMN {old}, RENAME COLUMN {new} TO {old}, LOCK=NONE"  # one atomic ALTER


def weak_lock(sql: str) -> bool:
    return False  # every ALTER takes the table's exclusive metadata lock at its start and end: writers queue behind it


def validate_sql(table: str, check: str) -> str | None:
    return None  # no guarding CHECK here: complete's backfill is the only way to know
