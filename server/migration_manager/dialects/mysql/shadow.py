"""MariaDB/MySQL's SQL for the shadow strategy (strategies/shadow.py): triggers, copy, checksums, swap.

Why each piece is as it is:
* No trigger chain (a trigger writing a table whose own trigger writes a third) may exist when the tables are
  renamed: a writer that backs off from the RENAME's metadata lock and retries fails with "table doesn't exist"
  for the third table, even one never renamed (MariaDB 10.11, measured: 22 failed writes in 30 swaps; with
  triggers one level deep, none). So the copy has no triggers before the swap; the swap is one RENAME of two
  names; then the old table's forward triggers are dropped and the reverse triggers created on the table. Writes
  between the RENAME and the CREATE TRIGGER (milliseconds) reach only the new table: SWAP_LEAVES_GAP, the
  strategy's reverse verify (new against old, batch by batch) copies them back before the swap is reported, and
  again before a rollback swaps back.
* Writes use INSERT ... ON DUPLICATE KEY UPDATE, never REPLACE: REPLACE deletes first, and a delete of a row other
  tables reference would cascade (or fail) through their foreign keys.
* The copy reads `LOCK IN SHARE MODE` (pt-online-schema-change's): the newest committed row, and a writer of that
  row waits for the batch; a checksum batch reads both tables in one consistent snapshot (REPEATABLE READ).
* Foreign keys of other tables follow a RENAME: after the swap they point at the old table (which has every row,
  kept by the reverse triggers), and are then re-pointed with foreign_key_checks = 0, in place (no copy); InnoDB
  names foreign keys per database, so the re-pointed and the copied ones take pt-osc's underscore-toggled names.
* Lock waits are bounded below a second with MariaDB's `SET STATEMENT max_statement_time = ... FOR`
  (lock_wait_timeout counts whole seconds); MySQL gets lock_wait_timeout = 1.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...strategies.shadow import NEW, OLD, Column, Shadow, shadow_name

MAX_NAME = 64
SWAP_LEAVES_GAP = True  # see the docstring: the reverse triggers exist only from just after the swap
# A batch holds shared locks on its rows until it commits, and a writer of one of them waits that long: 0.3 s
# batches gave a p99 of 260 ms and writes over 500 ms under load (bench_shadow, 1M rows).
COPY_BATCH_S = 0.05
# The read that finds a batch's last key takes the batch's row locks, before INSERT ... SELECT takes the copy's
# AUTO-INC table lock (innodb_autoinc_lock_mode 1, MariaDB's default) for as long as it reads: a writer holding one
# of the rows would otherwise wait for that AUTO-INC lock in its trigger, a deadlock that rolls the writer's
# transaction back (measured; pt-online-schema-change has it). One read fewer than locking them apart.
COPY_LOCKS = " LOCK IN SHARE MODE"
TRIGGERS = {"insert": "ins", "update": "upd", "delete": "del"}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# What the lock predictions (analysis/impact/steps.py) judge: the statements that take this database's locks.
BATCH_WAITS = "a write to a row of the batch"  # the batch reads LOCK IN SHARE MODE


def copy_table_sql(table: str) -> str:
    return f"CREATE TABLE {quote(f'_mm_new_{table}')} LIKE {quote(table)}"


def swap_sql(table: str) -> str:
    old, copy = quote(f"_mm_old_{table}"), quote(f"_mm_new_{table}")
    return f"RENAME TABLE {quote(table)} TO {old}, {copy} TO {quote(table)}"


def stored_name(engine, written: str) -> str:
    return written[1:-1].replace("``", "`") if written.startswith("`") else written


def _trigger(direction: str, event: str, table: str) -> str:
    return shadow_name(f"_mm_{direction}_{TRIGGERS[event]}_", table, MAX_NAME)


def key_columns(engine, table: str) -> list[str]:
    rows = engine.query(
        "SELECT column_name FROM information_schema.statistics WHERE table_schema = DATABASE() "
        "AND table_name = %s AND index_name = 'PRIMARY' ORDER BY seq_in_index",
        [table],
    )
    return [r[0] for r in rows]


def columns(engine, table: str) -> dict[str, Column]:
    rows = engine.query(
        "SELECT column_name, column_type, extra LIKE '%%GENERATED%%', is_nullable = 'NO' AND column_default IS NULL "
        "AND extra NOT LIKE '%%auto_increment%%' FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return {name: Column(type_, bool(generated), bool(required)) for name, type_, generated, required in rows}


def refusals(engine, table: str) -> list[str]:
    if not engine.table_exists(table):
        return [f"table {table} does not exist"]
    why = []
    if engine.query(
        "SELECT 1 FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = %s "
        "AND partition_name IS NOT NULL LIMIT 1",
        [table],
    ):
        why.append("it is partitioned")
    if not key_columns(engine, table):
        why.append("it has no primary key: rows of the copy could not be paired with the table's")
    triggers = [
        r[0]
        for r in engine.query(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
            "AND event_object_table = %s",
            [table],
        )
    ]
    if triggers:
        why.append(f"it has triggers of its own ({', '.join(triggers)}): they would fire twice during the sync")
    if any(fk["child"] == table for fk in _foreign_keys(engine, "referenced_table_name", table)):
        why.append("a foreign key of it references itself: the copy's would point at the old table")
    return why


def phase(engine, table: str) -> str:
    found = {
        r[0]
        for r in engine.query(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
            "AND event_object_table = %s",
            [table],
        )
    }
    if _trigger("rev", "insert", table) in found:
        return "swapped"
    if _trigger("fwd", "insert", table) in found:
        return "copying"
    renamed = engine.query(  # killed between the RENAME and the reverse triggers: the old table has the forward ones
        "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND event_object_table = %s "
        "AND trigger_name = %s",
        [shadow_name(OLD, table), _trigger("fwd", "insert", table)],
    )
    return "swapped" if renamed else "none"


def _foreign_keys(engine, side: str, table: str) -> list[dict]:
    """Foreign keys whose `side` (table_name: the child; referenced_table_name: the parent) is `table`."""
    rows = engine.query(
        "SELECT r.table_name, r.constraint_name, r.referenced_table_name, r.update_rule, r.delete_rule, "
        "GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position SEPARATOR '\\0'), "
        "GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position SEPARATOR '\\0') "
        "FROM information_schema.referential_constraints r JOIN information_schema.key_column_usage k "
        "ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name "
        "AND k.table_name = r.table_name "
        f"WHERE r.constraint_schema = DATABASE() AND r.{side} = %s "
        "GROUP BY r.table_name, r.constraint_name, r.referenced_table_name, r.update_rule, r.delete_rule",
        [table],
    )
    return [
        {
            "child": child,
            "name": name,
            "parent": parent,
            "on_update": upd,
            "on_delete": dele,
            "columns": cols.split("\0"),
            "ref_columns": refs.split("\0"),
        }
        for child, name, parent, upd, dele, cols, refs in rows
    ]


def _toggled(name: str) -> str:
    """pt-online-schema-change's rule: a foreign key's copy is named with one underscore more, or one less."""
    return name[1:] if name.startswith("_") else ("_" + name)[:MAX_NAME]


def _foreign_key_sql(fk: dict, name: str, parent: str) -> str:
    cols = ", ".join(quote(c) for c in fk["columns"])
    refs = ", ".join(quote(c) for c in fk["ref_columns"])
    return (
        f"CONSTRAINT {quote(name)} FOREIGN KEY ({cols}) REFERENCES {quote(parent)} ({refs}) "
        f"ON DELETE {fk['on_delete']} ON UPDATE {fk['on_update']}"
    )


def create(engine, shadow: Shadow, actions: str, lock_timeout_ms: int) -> None:
    """The copy (LIKE the table, its foreign keys renamed, the ALTER), the spare, and the triggers: the forward
    ones last, because they are what says a copy is under way. Each CREATE TRIGGER on the table waits for its
    metadata lock at most `lock_timeout_ms` (writers queue behind it); a failure removes what was created."""
    try:
        _create(engine, shadow, actions, lock_timeout_ms)
    except BaseException:
        undo(engine, shadow, lock_timeout_ms)
        raise


def _create(engine, shadow: Shadow, actions: str, lock_timeout_ms: int) -> None:
    table, new = quote(shadow.table), quote(shadow.new)
    engine.execute(f"CREATE TABLE {new} LIKE {table}")
    for fk in _foreign_keys(engine, "table_name", shadow.table):
        engine.execute(f"ALTER TABLE {new} ADD {_foreign_key_sql(fk, _toggled(fk['name']), fk['parent'])}")
    engine.execute(f"ALTER TABLE {new} {actions}")
    from ...strategies.shadow import read

    ready = read(engine, shadow.table, "")
    _create_sync(engine, ready, "fwd", ready.table, ready.new, ready.forward, bounded_ms=lock_timeout_ms)


def _create_sync(engine, shadow, direction, source, target, cols, bounded_ms: int | None = None):
    """Three row triggers on `source` (one per event: MariaDB has no multi-event trigger) writing `target`."""
    for event, body in _bodies(shadow, target, cols).items():  # insert last: its trigger is what `phase` looks for
        sql = _trigger_sql(direction, event, shadow.table, source, body)
        _bounded(engine, sql, bounded_ms) if bounded_ms else engine.execute(sql)


def _bodies(shadow: Shadow, target: str, cols: list[str]) -> dict[str, str]:
    key, target_q = shadow.key, quote(target)
    col_list = ", ".join(quote(c) for c in cols)
    values = ", ".join(f"NEW.{quote(c)}" for c in cols)
    updates = ", ".join(f"{quote(c)} = VALUES({quote(c)})" for c in cols if c not in key) or (
        f"{quote(key[0])} = {quote(key[0])}"
    )
    upsert = f"INSERT INTO {target_q} ({col_list}) VALUES ({values}) ON DUPLICATE KEY UPDATE {updates};"
    by_old_key = " AND ".join(f"{quote(k)} = OLD.{quote(k)}" for k in key)
    key_moved = " OR ".join(f"NOT (OLD.{quote(k)} <=> NEW.{quote(k)})" for k in key)
    return {
        "delete": f"DELETE FROM {target_q} WHERE {by_old_key};",
        "update": f"IF {key_moved} THEN DELETE FROM {target_q} WHERE {by_old_key}; END IF; {upsert}",
        "insert": upsert,
    }


def _trigger_sql(direction: str, event: str, table: str, source: str, body: str) -> str:
    """Named after the table being changed: trigger names are per database and move with a renamed table."""
    return (
        f"CREATE TRIGGER {quote(_trigger(direction, event, table))} AFTER {event.upper()} ON {quote(source)} "
        f"FOR EACH ROW BEGIN {body} END"
    )


# A writer that backed off from a DDL's metadata lock retries with the tables its trigger named when it first
# opened the table: dropped right after the trigger, such a table made that write fail, table doesn't exist
# (measured, under the test's writer). Tables named by a dropped trigger are dropped this much later.
GRACE_S = 1.0


def _drop_sync(engine, direction: str, table: str, grace: bool = True) -> None:
    """Drop the three triggers, then give writers that backed off from those DDLs time to retry."""
    dropped = 0
    for event in TRIGGERS:
        name = _trigger(direction, event, table)
        if engine.query(
            "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = %s", [name]
        ):
            _retrying(engine, f"DROP TRIGGER IF EXISTS {quote(name)}")
            dropped += 1
    if dropped and grace:
        time.sleep(GRACE_S)


@contextmanager
def copying(engine) -> Iterator[None]:
    yield  # the copy's writes go to a table without triggers


def _lock_range(engine, shadow: Shadow, where: str, params: list[Any]) -> None:
    """The re-copy's row locks before its INSERT ... SELECT takes the AUTO-INC lock (see COPY_LOCKS)."""
    engine.query(
        f"SELECT COUNT(*) FROM {quote(shadow.table)} FORCE INDEX (PRIMARY) WHERE {where} LOCK IN SHARE MODE", params
    )


def copy_range(engine, shadow: Shadow, where: str, params: list[Any]) -> int:
    cols = ", ".join(quote(c) for c in shadow.forward)
    first = f"{quote(shadow.new)}.{quote(shadow.key[0])}"  # the SELECT's table has the same column names
    return engine.execute(  # rows inserted; a row the triggers wrote first counts 0 (its update changes nothing)
        f"INSERT INTO {quote(shadow.new)} ({cols}) SELECT {cols} FROM {quote(shadow.table)} WHERE {where} "
        f"LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE {first} = {first}",
        params,
    )


def recopy_range(engine, shadow: Shadow, where: str, params: list[Any]) -> None:
    """Make the copy's rows in the range equal to the table's: drop rows the table lacks, upsert the others."""
    _lock_range(engine, shadow, where, params)
    same_key = " AND ".join(f"o.{quote(k)} = n.{quote(k)}" for k in shadow.key)
    engine.execute(
        f"DELETE n FROM {quote(shadow.new)} AS n WHERE {_qualified(where, 'n')} AND NOT EXISTS "
        f"(SELECT 1 FROM {quote(shadow.table)} AS o WHERE {same_key})",
        params,
    )
    cols = ", ".join(quote(c) for c in shadow.forward)
    new = quote(shadow.new)
    updates = ", ".join(f"{new}.{quote(c)} = VALUES({quote(c)})" for c in shadow.forward if c not in shadow.key)
    updates = updates or f"{new}.{quote(shadow.key[0])} = {new}.{quote(shadow.key[0])}"
    engine.execute(
        f"INSERT INTO {quote(shadow.new)} ({cols}) SELECT {cols} FROM {quote(shadow.table)} WHERE {where} "
        f"LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE {updates}",
        params,
    )


def _qualified(where: str, alias: str) -> str:
    return re.sub(r"(?<![\w.`])(`(?:[^`]|``)+`)", rf"{alias}.\1", where)


_CASTS = (
    (re.compile(r"^(tiny|small|medium|big)?int\b.*\bunsigned"), "UNSIGNED"),
    (re.compile(r"^((tiny|small|medium|big)?int|year)\b"), "SIGNED"),
    (re.compile(r"^(decimal|numeric)(\(\d+(,\d+)?\))?"), None),
    (re.compile(r"^(float|double|real)"), "DOUBLE"),
    (re.compile(r"^date$"), "DATE"),
    (re.compile(r"^(datetime|timestamp)(\(\d\))?"), None),
    (re.compile(r"^time(\(\d\))?"), None),
    (re.compile(r"^(binary|varbinary|tinyblob|blob|mediumblob|longblob)"), "BINARY"),
)


def _cast_target(column_type: str) -> str:
    """The CAST target that compares a value of a changed column the way the new type holds it."""
    text = column_type.lower()
    for pattern, target in _CASTS:
        if found := pattern.match(text):
            if target:
                return target
            word = found.group(0)
            return word.replace("timestamp", "datetime").replace("numeric", "decimal").upper()
    return "CHAR"


def checksums(engine, shadow: Shadow, where: str, params: list[Any]) -> tuple[int, bool]:
    """(rows in the table's range, whether the copy's range holds the same rows); both reads are consistent reads
    of the batch transaction's one snapshot."""
    changed = {c: _cast_target(t) for c, t in shadow.changed.items()}
    values = [f"CAST({quote(c)} AS {changed[c]})" if c in changed else quote(c) for c in shadow.forward]
    row = ", ".join(f"{v}, ISNULL({v})" for v in values)
    digest = f"SUM(CAST(CONV(LEFT(MD5(CONCAT_WS('#', {row})), 16), 16, 10) AS UNSIGNED))"
    old_n, old_sum = engine.query(f"SELECT COUNT(*), {digest} FROM {quote(shadow.table)} WHERE {where}", params)[0]
    new_n, new_sum = engine.query(f"SELECT COUNT(*), {digest} FROM {quote(shadow.new)} WHERE {where}", params)[0]
    return int(old_n), (old_n, old_sum) == (new_n, new_sum)


def after_copy(engine, shadow: Shadow) -> None:
    """The copy's AUTO_INCREMENT where the table's stands, so no id freed at the top is handed out again."""
    found = engine.query(
        "SELECT auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
        [shadow.table],
    )
    if found and found[0][0]:
        _retrying(engine, f"ALTER TABLE {quote(shadow.new)} AUTO_INCREMENT = {int(found[0][0])}")


def long_transactions(engine, shadow: Shadow, min_age_s: float) -> list[str]:
    """Transactions open for `min_age_s` and sessions already waiting for a metadata lock, of sessions using this
    database: a RENAME would queue behind them, and every writer behind it. InnoDB cannot say which tables a
    transaction has read; every open transaction of the server was too many on a shared server (a trigger creation
    waited 28 s for other databases' transactions), so it is those whose session is in this database (the bounded
    lock wait stays the guard against one that is not)."""
    rows = engine.query(
        "SELECT t.trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), "
        "LEFT(COALESCE(t.trx_query, ''), 80) FROM information_schema.innodb_trx t "
        "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
        "WHERE t.trx_mysql_thread_id <> CONNECTION_ID() AND p.db = DATABASE() "
        "AND t.trx_started < NOW() - INTERVAL %s SECOND",
        [int(max(1, round(min_age_s)))],
    )
    waiting = engine.query(
        "SELECT id, time, LEFT(COALESCE(info, ''), 80) FROM information_schema.processlist "
        "WHERE state LIKE 'Waiting for table metadata lock%%' AND id <> CONNECTION_ID() AND db = DATABASE()"
    )
    return [f"session {i} (transaction open {age}s: {sql})" for i, age, sql in rows] + [
        f"session {i} (waiting for a metadata lock for {age}s: {sql})" for i, age, sql in waiting
    ]


def gave_up_waiting(engine, exc: BaseException) -> bool:
    # 1205 lock wait timeout, 1969 MariaDB's max_statement_time, 3024 MySQL's max_execution_time
    return engine.is_lock_timeout(exc) or (getattr(exc, "args", None) or [None])[0] in (1205, 1969, 3024)


def _bounded(engine, sql: str, timeout_ms: int) -> None:
    """Run a DDL that may wait for a metadata lock, giving up after `timeout_ms`."""
    if "mariadb" in engine.server_version().lower():
        engine.execute(f"SET STATEMENT max_statement_time = {timeout_ms / 1000:.3f} FOR {sql}")
    else:
        engine.execute("SET SESSION lock_wait_timeout = 1")
        engine.execute(sql)


def _retrying(engine, sql: str, timeout_ms: int = 200, tries: int = 30) -> None:
    """A short DDL after the swap (a trigger or spare dropped, a foreign key re-pointed): each try waits at most
    `timeout_ms` for its lock, so writers never queue long behind it."""
    pause = 0.1
    for attempt in range(tries):
        try:
            _bounded(engine, sql, timeout_ms)
            return
        except Exception as exc:
            if not gave_up_waiting(engine, exc) or attempt == tries - 1:
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 2.0)


def swap(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    _bounded(
        engine,
        f"RENAME TABLE {quote(shadow.table)} TO {quote(shadow.old)}, {quote(shadow.new)} TO {quote(shadow.table)}",
        lock_timeout_ms,
    )


def after_swap(engine, shadow: Shadow) -> None:
    """Idempotent: the old table's forward triggers go (nothing writes it yet), the reverse triggers come on the
    table, and other tables' foreign keys, which followed the table to `_mm_old_<t>` in the rename, are pointed at
    the new one. The strategy then copies back what was written in between (SWAP_LEAVES_GAP)."""
    _drop_sync(engine, "fwd", shadow.table, grace=False)  # on the old table, which no writer opens
    if not _has_trigger(engine, _trigger("rev", "insert", shadow.table)):
        _drop_sync(engine, "rev", shadow.table, grace=False)  # a half-created set of a killed run
        for event, body in _bodies(shadow, shadow.old, shadow.backward).items():
            _retrying(engine, _trigger_sql("rev", event, shadow.table, shadow.table, body))
    _repoint(engine, shadow.old, shadow.table)


def _has_trigger(engine, name: str) -> bool:
    return bool(
        engine.query(
            "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = %s", [name]
        )
    )


def _repoint(engine, parent: str, to: str) -> None:
    """Other tables' foreign keys on `parent` are re-created on `to`: with foreign_key_checks = 0 in place, no
    scan (both tables hold the same keys)."""
    found = _foreign_keys(engine, "referenced_table_name", parent)
    if not found:
        return
    engine.execute("SET foreign_key_checks = 0")
    try:
        for fk in found:
            _retrying(
                engine,
                f"ALTER TABLE {quote(fk['child'])} DROP FOREIGN KEY {quote(fk['name'])}, "
                f"ADD {_foreign_key_sql(fk, _toggled(fk['name']), to)}, ALGORITHM=INPLACE, LOCK=NONE",
            )
    finally:
        engine.execute("SET foreign_key_checks = 1")


def swap_back(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    """The old table (kept in step by the reverse triggers, the gap copied back) takes its name back."""
    _repoint(engine, shadow.table, shadow.old)  # the old table has every row: children may point at it now
    _bounded(
        engine,
        f"RENAME TABLE {quote(shadow.table)} TO {quote(shadow.new)}, {quote(shadow.old)} TO {quote(shadow.table)}",
        lock_timeout_ms,
    )


def after_swap_back(engine, shadow: Shadow) -> None:
    _retrying(engine, f"DROP TABLE IF EXISTS {quote(shadow.new)}")


def drop_old(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    _drop_sync(engine, "rev", shadow.table)
    _retrying(engine, f"DROP TABLE IF EXISTS {quote(shadow.old)}", lock_timeout_ms)


def undo(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    """Before the swap: the forward triggers and the copy go (and an old table a killed complete left)."""
    _drop_sync(engine, "fwd", shadow.table)
    _retrying(engine, f"DROP TABLE IF EXISTS {quote(shadow.new)}, {quote(shadow.old)}", lock_timeout_ms)


def leftovers(engine) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for trigger, table in engine.query(
        "SELECT trigger_name, event_object_table FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
        "AND (trigger_name LIKE '\\_mm\\_fwd\\_%%' OR trigger_name LIKE '\\_mm\\_rev\\_%%') ORDER BY 2, 1"
    ):
        owner = trigger.split("_", 4)[4]  # _mm_fwd_ins_<table>
        found.setdefault(owner, []).append(f"trigger {trigger} on {table}")
    for (name,) in engine.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND (table_name LIKE '\\_mm\\_new\\_%%' OR table_name LIKE '\\_mm\\_old\\_%%') ORDER BY 1"
    ):
        found.setdefault(name[len(NEW) :] if name.startswith(NEW) else name[len(OLD) :], []).append(f"table {name}")
    return found
