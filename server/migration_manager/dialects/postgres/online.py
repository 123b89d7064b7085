"""PostgreSQL's side of the online strategies: the throttle signals the batches read between batches."""

from __future__ import annotations

import re

from ...strategies.batches import SignalUnreadable
from ..base import Engine
from . import DIALECT


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
            raise SignalUnreadable(
                "pg_stat_replication hides replica lag from this role: grant it pg_monitor", lasting=True
            )
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


# ---- the SQL of the online playbooks (names come quoted) ------------------------------------------------------
quote = DIALECT.quote


def add_nullable_column(table: str, column: str, type_sql: str) -> str:
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type_sql}"  # no DEFAULT: metadata only, never a rewrite


def set_default(table: str, column: str, default: str) -> str:
    return f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}"  # new rows only: metadata


def guard_not_null(table: str, column: str, check: str) -> list[str]:
    """New writes may not store NULL from now on; the rows already there are not scanned (NOT VALID)."""
    return [f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({column} IS NOT NULL) NOT VALID"]


def enforce_not_null(table: str, column: str, type_sql: str, default: str | None, check: str) -> list[str]:
    # VALIDATE scans under SHARE UPDATE EXCLUSIVE (writes go on); SET NOT NULL then uses the validated CHECK
    # instead of scanning under ACCESS EXCLUSIVE (PostgreSQL 12+), and the CHECK is no longer needed.
    return [
        f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}",
        f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
        f"ALTER TABLE {table} DROP CONSTRAINT {check}",
    ]


def drop_column(table: str, column: str) -> str:
    return f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}"  # metadata only


def concurrent_index(sql: str) -> str | None:
    """CREATE [UNIQUE] INDEX / DROP INDEX built without blocking writes, or None when already so."""
    if re.search(r"\bCONCURRENTLY\b", sql, re.IGNORECASE):
        return None
    return re.sub(r"^(\s*(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX)\b", r"\1 CONCURRENTLY", sql, count=1, flags=re.I)


def not_valid_then_validate(sql: str, table: str, constraint: str) -> list[str]:
    """ADD CONSTRAINT (foreign key, CHECK) without the blocking scan: NOT VALID (brief lock), then VALIDATE
    (SHARE UPDATE EXCLUSIVE: writes go on; a foreign key's parent gets ROW SHARE)."""
    return [f"{sql.rstrip().rstrip(';')} NOT VALID", f"ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"]


def converted(expression: str, type_sql: str) -> str:
    """`expression` as a value of `type_sql` (an UPDATE's SET needs an explicit cast where no assignment cast is)."""
    return f"CAST({expression} AS {type_sql})"


def sync_triggers(table: str, trigger: str, old: str, new: str, type_sql: str, both_ways: bool) -> list[str]:
    """A BEFORE INSERT OR UPDATE trigger keeping column `new` equal to `old` (and `old` to `new` when both ways:
    whichever the writer changed wins). `trigger` is unquoted; it names the function too."""
    name = quote(trigger)
    if both_ways:
        body = (
            f"IF TG_OP = 'INSERT' THEN IF NEW.{new} IS NULL THEN NEW.{new} := NEW.{old}; ELSE NEW.{old} := NEW.{new}; "
            f"END IF; ELSIF NEW.{old} IS DISTINCT FROM OLD.{old} THEN NEW.{new} := NEW.{old}; "
            f"ELSIF NEW.{new} IS DISTINCT FROM OLD.{new} THEN NEW.{old} := NEW.{new}; END IF;"
        )
    else:
        body = f"NEW.{new} := {converted('NEW.' + old, type_sql)};"
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $mm$ BEGIN {body} RETURN NEW; END $mm$",
        # one implicit transaction (a simple query): never a moment without the trigger on a resumed run
        f"DROP TRIGGER IF EXISTS {name} ON {table}; "
        f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def drop_sync_triggers(table: str, trigger: str) -> list[str]:
    name = quote(trigger)
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]


def swap_column(table: str, old: str, new: str) -> str:
    # Two statements in one simple query: one implicit transaction, so readers see the old column or the new one.
    return f"ALTER TABLE {table} DROP COLUMN {old}; ALTER TABLE {table} RENAME COLUMN {new} TO {old}"


def unique_by_index(table: str, constraint: str, columns: list[str], primary: bool) -> list[str]:
    """ADD UNIQUE / PRIMARY KEY without building the index under the table lock: the index CONCURRENTLY, then the
    constraint takes it over (a brief lock, no scan)."""
    kind = "PRIMARY KEY" if primary else "UNIQUE"
    return [
        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {constraint} ON {table} ({', '.join(columns)})",
        f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {kind} USING INDEX {constraint}",
    ]


def drop_index_concurrently(index: str) -> str:
    return f"DROP INDEX CONCURRENTLY IF EXISTS {index}"  # also what a failed CONCURRENTLY build left (INVALID)


_WEAK = re.compile(r"\bCONCURRENTLY\b|\bVALIDATE\s+CONSTRAINT\b", re.IGNORECASE)


def weak_lock(sql: str) -> bool:
    """True when the statement's lock lets writes go on while it waits (CONCURRENTLY; VALIDATE's SHARE UPDATE
    EXCLUSIVE), so a long wait for it stalls nobody."""
    return bool(_WEAK.search(sql))


def validate_sql(table: str, check: str) -> str | None:
    return f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}"
