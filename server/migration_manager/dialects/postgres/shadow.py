"""PostgreSQL's SQL for the shadow strategy (strategies/shadow.py): triggers, copy, checksums, swap.

Why each piece is as it is:
* The copy reads the old rows `FOR KEY SHARE`: a row deleted (or its key changed) after the batch's snapshot is
  re-checked, not copied stale, while ordinary UPDATEs of those rows do not wait for the batch. A trigger's write
  and a copied row meet on the new table's key: ON CONFLICT DO NOTHING keeps the trigger's, which is newer.
  Without the row locks the copy ran ~60% faster (1M rows: 125k vs 78k rows/s alone), but about one run in ten
  under the test's writer left a stale row that three verify passes did not repair: the locks stay.
* A checksum reads both tables in one statement, so one snapshot: the triggers write the copy in the writer's own
  transaction, so old and new agree exactly in any snapshot.
* The swap is one transaction under a short lock_timeout: ACCESS EXCLUSIVE on both tables, the renames, the
  index names handed over, serial sequences re-owned, identity sequences moved on, foreign keys from other tables
  re-pointed NOT VALID (validated after, without blocking writes) and the reverse trigger created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...strategies.shadow import NEW, OLD, Column, Shadow, shadow_name

FORWARD, REVERSE = "_mm_shadow_forward", "_mm_shadow_reverse"
COPY_BATCH_S = 0.3  # batches.py's target: a batch locks no row of the table, writers never wait for it
COPY_LOCKS = ""  # the read that finds a batch's last key locks nothing
SWAP_LEAVES_GAP = False  # the reverse trigger is created in the swap's own transaction


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# What the lock predictions (analysis/impact/steps.py) judge: the statements that take this database's locks.
BATCH_WAITS = "a DELETE or key change of a row of the batch"  # the batch reads FOR KEY SHARE: other updates go on


def copy_table_sql(table: str) -> str:
    return f"CREATE TABLE {quote(f'_mm_new_{table}')} (LIKE {quote(table)} INCLUDING ALL)"


def swap_sql(table: str) -> str:
    return f"ALTER TABLE {quote(table)} RENAME TO {quote(f'_mm_old_{table}')}"


def stored_name(engine, written: str) -> str:
    return written[1:-1].replace('""', '"') if written.startswith('"') else written.lower()


def _regclass(name: str) -> str:
    return quote(name)


def key_columns(engine, table: str) -> list[str]:
    rows = engine.query(
        "SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.n",
        [_regclass(table)],
    )
    return [r[0] for r in rows]


def columns(engine, table: str) -> dict[str, Column]:
    rows = engine.query(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', "
        "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [_regclass(table)],
    )
    return {name: Column(type_, generated, required) for name, type_, generated, required in rows}


def refusals(engine, table: str) -> list[str]:
    found = engine.query(
        "SELECT c.relkind, c.relispartition FROM pg_class c WHERE c.oid = to_regclass(%s)", [_regclass(table)]
    )
    if not found:
        return [f"table {table} does not exist"]
    relkind, is_partition = found[0]
    why = []
    if relkind == "p" or is_partition:
        why.append("it is a partitioned table or a partition (rename the partitions' parent instead)")
    if not key_columns(engine, table):
        why.append("it has no primary key: rows of the copy could not be paired with the table's")
    triggers = _names(
        engine, "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal", table
    )
    if triggers:
        why.append(f"it has triggers of its own ({', '.join(triggers)}): they would fire twice during the sync")
    views = _names(
        engine,
        "SELECT DISTINCT v.relname FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        "JOIN pg_class v ON v.oid = r.ev_class WHERE d.refobjid = to_regclass(%s) AND v.oid <> d.refobjid",
        table,
    )
    own = engine.query(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND confrelid = conrelid",
        [_regclass(table)],
    )[0][0]
    if own:
        why.append("a foreign key of it references itself: the copy's would point at the old table")
    if views:
        why.append(f"views read it ({', '.join(views)}): they would keep reading the old table after the swap")
    return why


def _names(engine, sql: str, table: str) -> list[str]:
    return [r[0] for r in engine.query(sql, [_regclass(table)])]


def phase(engine, table: str) -> str:
    found = _names(engine, "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s)", table)
    if REVERSE in found:
        return "swapped"
    return "copying" if FORWARD in found else "none"


def create(engine, shadow: Shadow, actions: str, lock_timeout_ms: int) -> None:
    """In one transaction: the copy with the table's foreign keys (NOT VALID) and the ALTER, and the trigger
    (SHARE ROW EXCLUSIVE on the table: it waits for the writes under way, and new ones wait for it)."""
    table, new = quote(shadow.table), quote(shadow.new)
    with engine.transaction():
        engine.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        engine.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING ALL)")
        for name, definition in _foreign_keys_out(engine, shadow.table):
            engine.execute(f"ALTER TABLE {new} ADD CONSTRAINT {quote(name)} {definition} NOT VALID")
        engine.execute(f"ALTER TABLE {new} {_on_the_copy(actions, _index_pairs(engine, shadow.table, shadow.new))}")
        from ...strategies.shadow import read  # the new table's columns, now that it exists

        ready = read(engine, shadow.table, "")
        ready.using = shadow.using
        _create_sync(engine, shadow.table, shadow.new, FORWARD, _forward_rows(ready), ready.forward, ready.key)


_NAMED_CONSTRAINT = re.compile(r'(\bCONSTRAINT\s+(?:IF\s+EXISTS\s+)?)("(?:[^"]|"")+"|\w+)', re.IGNORECASE)


def _on_the_copy(actions: str, pairs: list[tuple[str, str]]) -> str:
    """The ALTER's actions with the names of key and unique constraints as the copy has them: they are index
    names, unique in the schema, so LIKE gave the copy's their own (`DROP CONSTRAINT t_pkey` must find it)."""
    copies = dict(pairs)

    def rename(found: re.Match) -> str:
        written = found[2]
        name = written[1:-1].replace('""', '"') if written.startswith('"') else written.lower()
        return found[1] + quote(copies[name]) if name in copies else found[0]

    return _NAMED_CONSTRAINT.sub(rename, actions)


def _foreign_keys_out(engine, table: str) -> list[tuple[str, str]]:
    return engine.query(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND contype = 'f' ORDER BY conname",
        [_regclass(table)],
    )


def _foreign_keys_in(engine, table: str) -> list[tuple[str, str, str]]:
    """(child table, constraint, definition) of the foreign keys of other tables that reference `table`."""
    return engine.query(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.confrelid = to_regclass(%s) AND c.contype = 'f' AND c.conrelid <> c.confrelid ORDER BY 1, 2",
        [_regclass(table)],
    )


def _forward_rows(shadow: Shadow) -> list[str]:
    """The SELECT list that turns an old row into the new row's copied columns (USING where the ALTER said)."""
    return [f"({shadow.using[c]})" if c in shadow.using else quote(c) for c in shadow.forward]


def _backward_rows(shadow: Shadow) -> list[str]:
    # An explicit cast back: a type change whose way back has no assignment cast (int -> text) still reaches it.
    return [
        f"CAST({quote(c)} AS {shadow.old_columns[c].type})"
        if shadow.old_columns[c].type != shadow.new_columns[c].type
        else quote(c)
        for c in shadow.backward
    ]


def _create_sync(engine, source: str, target: str, trigger: str, rows: list[str], cols: list[str], key: list[str]):
    """A row trigger on `source` that keeps `target` in step, and a TRUNCATE trigger that empties it."""
    function = quote(shadow_name(trigger + "_", source))
    target_q, keys = quote(target), ", ".join(quote(k) for k in key)
    old_key = ", ".join(f"OLD.{quote(k)}" for k in key)
    new_key = ", ".join(f"NEW.{quote(k)}" for k in key)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in cols if c not in key)
    on_conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    engine.execute(
        f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $mm$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE {target_q};
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND ROW({old_key}) IS DISTINCT FROM ROW({new_key})) THEN
    DELETE FROM {target_q} WHERE ROW({keys}) = ROW({old_key});
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO {target_q} ({", ".join(quote(c) for c in cols)}) OVERRIDING SYSTEM VALUE
      SELECT {", ".join(rows)} FROM (SELECT NEW.*) AS o ON CONFLICT ({keys}) {on_conflict};
  END IF;
  RETURN NULL;
END $mm$"""
    )
    engine.execute(
        f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {quote(source)} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )
    engine.execute(
        f"CREATE TRIGGER {trigger}_truncate AFTER TRUNCATE ON {quote(source)} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def _drop_sync(engine, source: str, trigger: str) -> None:
    engine.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quote(source)}")
    engine.execute(f"DROP TRIGGER IF EXISTS {trigger}_truncate ON {quote(source)}")
    engine.execute(f"DROP FUNCTION IF EXISTS {quote(shadow_name(trigger + '_', source))}()")


@contextmanager
def copying(engine) -> Iterator[None]:
    yield  # the copy writes the new table, which has no triggers: nothing to tell them


def copy_range(engine, shadow: Shadow, where: str, params: list[Any]) -> int:
    cols, keys = ", ".join(quote(c) for c in shadow.forward), ", ".join(quote(k) for k in shadow.key)
    return engine.execute(
        f"INSERT INTO {quote(shadow.new)} ({cols}) OVERRIDING SYSTEM VALUE SELECT {', '.join(_forward_rows(shadow))} "
        f"FROM {quote(shadow.table)} AS o WHERE {where} FOR KEY SHARE OF o ON CONFLICT ({keys}) DO NOTHING",
        params,
    )


def recopy_range(engine, shadow: Shadow, where: str, params: list[Any]) -> None:
    """Make the copy's rows in the range equal to the table's: drop rows the table lacks, upsert the others."""
    keys = ", ".join(quote(k) for k in shadow.key)
    same_key = " AND ".join(f"o.{quote(k)} = n.{quote(k)}" for k in shadow.key)
    engine.execute(  # NOT EXISTS, an anti-join: NOT IN over a big range ran for half an hour (no hashed subplan)
        f"DELETE FROM {quote(shadow.new)} AS n WHERE ({_qualified(where, 'n')}) AND NOT EXISTS "
        f"(SELECT 1 FROM {quote(shadow.table)} AS o WHERE {same_key})",
        params,
    )
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in shadow.forward if c not in shadow.key)
    engine.execute(
        f"INSERT INTO {quote(shadow.new)} ({', '.join(quote(c) for c in shadow.forward)}) OVERRIDING SYSTEM VALUE "
        f"SELECT {', '.join(_forward_rows(shadow))} FROM {quote(shadow.table)} AS o WHERE {where} FOR KEY SHARE OF o "
        f"ON CONFLICT ({keys}) " + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING"),
        params,
    )


def _qualified(where: str, alias: str) -> str:
    """The range condition with its (quoted) column names qualified by `alias`."""
    return re.sub(r'(?<![\w."])("(?:[^"]|"")+")', rf"{alias}.\1", where)


def checksums(engine, shadow: Shadow, where: str, params: list[Any]) -> tuple[int, bool]:
    """(rows in the table's range, whether the copy's range holds the same rows), read in one snapshot."""
    changed = shadow.changed
    old_row = ", ".join(
        f"CAST({expr} AS {changed[c]})" if c in changed else expr
        for c, expr in zip(shadow.forward, _forward_rows(shadow), strict=True)
    )
    new_row = ", ".join(quote(c) for c in shadow.forward)
    old_n, old_sum, new_n, new_sum = engine.query(
        f"SELECT o.n, o.s, n.n, n.s FROM "
        f"(SELECT count(*) AS n, sum(hashtextextended(ROW({old_row})::text, 0)) AS s "
        f"FROM {quote(shadow.table)} WHERE {where}) o, "
        f"(SELECT count(*) AS n, sum(hashtextextended(ROW({new_row})::text, 0)) AS s "
        f"FROM {quote(shadow.new)} WHERE {where}) n",
        params + params,
    )[0]
    return old_n, (old_n, old_sum) == (new_n, new_sum)


def after_copy(engine, shadow: Shadow) -> None:
    """Validate the copy's foreign keys before the swap: SHARE UPDATE EXCLUSIVE, writes go on."""
    for name, _definition in _foreign_keys_out(engine, shadow.new):
        engine.execute(f"ALTER TABLE {quote(shadow.new)} VALIDATE CONSTRAINT {quote(name)}")


def long_transactions(engine, shadow: Shadow, min_age_s: float) -> list[str]:
    """Sessions a rename would queue behind: a transaction open for `min_age_s` holding a lock on either table,
    or anyone already waiting for one."""
    rows = engine.query(
        "SELECT DISTINCT a.pid, a.state, extract(epoch FROM now() - a.xact_start)::int, left(a.query, 80) "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.pid <> pg_backend_pid() "
        "AND l.relation IN (to_regclass(%s), to_regclass(%s), to_regclass(%s)) "
        "AND (NOT l.granted OR a.xact_start < now() - make_interval(secs => %s))",
        [_regclass(shadow.table), _regclass(shadow.new), _regclass(shadow.old), min_age_s],
    )
    return [f"session {pid} ({state}, transaction open {age}s: {sql})" for pid, state, age, sql in rows]


def gave_up_waiting(engine, exc: BaseException) -> bool:
    return engine.is_lock_timeout(exc)


def swap(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    """The table becomes `_mm_old_<t>` and the copy takes its name, index names, sequences and the foreign keys
    that point at it; in the same commit the reverse trigger starts keeping the old table in step."""
    outgoing = (shadow.table, shadow.old, FORWARD)
    _exchange(engine, shadow, lock_timeout_ms, outgoing=outgoing, incoming=shadow.new, prefix="_mm_o_")


def swap_back(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    """The old table takes its name back (it holds every write made since the swap); the new one is set aside."""
    _exchange(
        engine,
        shadow,
        lock_timeout_ms,
        outgoing=(shadow.table, shadow.new, REVERSE),
        incoming=shadow.old,
        prefix="_mm_n_",
    )


def _exchange(engine, shadow: Shadow, lock_timeout_ms: int, outgoing, incoming: str, prefix: str) -> None:
    table, set_aside, trigger = outgoing
    foreign_keys = _foreign_keys_in(engine, table)  # their definitions name the table: re-created, they follow it
    pairs = _index_pairs(engine, table, incoming)
    with engine.transaction():
        engine.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        engine.execute(f"LOCK TABLE {quote(table)}, {quote(incoming)} IN ACCESS EXCLUSIVE MODE")
        _drop_sync(engine, table, trigger)
        for leaving, arriving in pairs:
            engine.execute(f"ALTER INDEX {quote(leaving)} RENAME TO {quote(shadow_name(prefix, leaving))}")
            engine.execute(f"ALTER INDEX {quote(arriving)} RENAME TO {quote(leaving)}")
        engine.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(set_aside)}")
        engine.execute(f"ALTER TABLE {quote(incoming)} RENAME TO {quote(table)}")
        _hand_over_sequences(engine, set_aside, table)
        for child, name, definition in foreign_keys:
            engine.execute(
                f"ALTER TABLE {child} DROP CONSTRAINT {quote(name)}, ADD CONSTRAINT {quote(name)} {definition} NOT VALID"
            )
        if trigger == FORWARD:  # swapping forward: from this commit on, the old table follows the new one
            _create_sync(engine, table, set_aside, REVERSE, _backward_rows(shadow), shadow.backward, shadow.key)
    for child, name, _definition in foreign_keys:  # SHARE UPDATE EXCLUSIVE: the child's writes go on
        engine.execute(f"ALTER TABLE {child} VALIDATE CONSTRAINT {quote(name)}")


_INDEX_DEF = re.compile(r'^(CREATE (?:UNIQUE )?INDEX) (?:"(?:[^"]|"")*"|\S+) ON (?:ONLY )?\S+? (USING .*)$', re.DOTALL)


def _index_pairs(engine, table: str, other: str) -> list[tuple[str, str]]:
    """(index of `table`, the same index on `other`), matched by definition (the names aside)."""
    rows = engine.query(
        "SELECT c.relname, i.indrelid = to_regclass(%s), pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid IN (to_regclass(%s), to_regclass(%s)) ORDER BY 1",
        [_regclass(table), _regclass(table), _regclass(other)],
    )
    theirs: dict[str, list[str]] = {}
    for name, mine, definition in rows:
        if not mine:
            theirs.setdefault(_INDEX_DEF.sub(r"\1 \2", definition), []).append(name)
    pairs = []
    for name, mine, definition in rows:
        if mine and (match := theirs.get(_INDEX_DEF.sub(r"\1 \2", definition))):
            pairs.append((name, match.pop(0)))
    return pairs


def _hand_over_sequences(engine, outgoing: str, incoming: str) -> None:
    """Serial sequences (shared by both tables' defaults) change owner, so dropping the outgoing table keeps them;
    identity sequences (one per table) of the incoming table move on to where the outgoing one's stand."""
    owned = engine.query(
        "SELECT s.oid::regclass::text, a.attname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE d.refobjid = to_regclass(%s) AND d.deptype = 'a' AND s.relkind = 'S'",
        [_regclass(outgoing)],
    )
    mine = columns(engine, incoming)
    for sequence, column in owned:
        if column in mine:
            engine.execute(f"ALTER SEQUENCE {sequence} OWNED BY {quote(incoming)}.{quote(column)}")
    identities = engine.query(
        "SELECT pg_get_serial_sequence(%s, a.attname), pg_get_serial_sequence(%s, a.attname) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attidentity <> '' AND a.attname IN "
        "(SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attidentity <> '')",
        [_regclass(outgoing), _regclass(incoming), _regclass(incoming), _regclass(outgoing)],
    )
    for source, target in identities:
        engine.execute(f"SELECT setval(%s::regclass, last_value, is_called) FROM {source}", [target])


def after_swap(engine, shadow: Shadow) -> None:
    pass  # the exchange did it all in its transaction


def after_swap_back(engine, shadow: Shadow) -> None:
    engine.execute(f"DROP TABLE IF EXISTS {quote(shadow.new)}")


def drop_old(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    with engine.transaction():
        engine.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        _drop_sync(engine, shadow.table, REVERSE)
        engine.execute(f"DROP TABLE IF EXISTS {quote(shadow.old)}")


def undo(engine, shadow: Shadow, lock_timeout_ms: int) -> None:
    """Before the swap: the trigger and the copy go; the table was never changed."""
    with engine.transaction():
        engine.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        _drop_sync(engine, shadow.table, FORWARD)
        engine.execute(f"DROP TABLE IF EXISTS {quote(shadow.new)}")


def leftovers(engine) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for table, trigger in engine.query(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname IN (%s, %s) ORDER BY 1",
        [FORWARD, REVERSE],
    ):
        found.setdefault(table, []).append(f"trigger {trigger} on {table}")
    for (name,) in engine.query(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
        "AND (c.relname LIKE %s OR c.relname LIKE %s) ORDER BY 1",
        [_like(NEW), _like(OLD)],
    ):
        found.setdefault(name[len(NEW) :] if name.startswith(NEW) else name[len(OLD) :], []).append(f"table {name}")
    return found


def _like(prefix: str) -> str:
    return prefix.replace("_", "\\_") + "%"
