"""Archive before destroy (rollback.archiveDestroyedData): the runner's hook around each statement.

Before a statement that destroys data (DROP COLUMN, DROP TABLE, a type change that may lose values)
the values are copied into an archive table `_mm_archive_...` — in the migration's own transaction
on PostgreSQL and SQLite, just before the statement on MariaDB — and an `archive` event records it
in the event log (which table and columns, the key, the row count). When the reverse direction of
the same migration re-creates what was destroyed, the values are put back right after the statement
that re-creates it (before, say, a SET NOT NULL that needs them), the archive is dropped and an
`archive-restored` event says how many rows came back. Archives never restored are dropped by
`db-migrate backup prune` once older than rollback.keepBackups days.
"""

from __future__ import annotations

from datetime import timedelta

from ..analysis.operations import statement_operations
from ..analysis.schema import key
from ..archive import MAY_DESTROY, MAY_RECREATE, PREFIX, ArchiveStep
from ..archive.plan import (
    archive_steps,
    create_sql,
    dialect_sql,
    drop_sql,
    recreated,
    restorable,
    restore_sql,
)
from ..history import as_utc, utcnow
from ..migrations.model import Script
from ..reports import MigrationRun, RunReport, StatementRun
from .context import Connection

COUNT_BELOW = 100_000  # rows: a plan counts a table exactly below this catalog estimate
EVENTS = ("archive", "archive-restored", "archive-kept", "archive-discarded", "archive-dropped")


class ArchiveKept(Exception):
    """A new archive would replace one that still holds rows a restore could not put back."""


class Archiver:
    """One migration run in one direction: archives before, restores after each statement."""

    def __init__(self, conn: Connection, run: MigrationRun, *, archive_new: bool = True) -> None:
        self.conn, self.engine, self.run = conn, conn.engine, run
        self.enabled = conn.project.settings.rollback.archiveDestroyedData
        self.archive_new = archive_new
        self.reset()

    def reset(self) -> None:
        """A first attempt, or a transaction attempt that starts again (lock-timeout retry): what the last
        one did was rolled back."""
        self.made: list[ArchiveStep] = []  # this attempt's steps (archives, restores, notes)
        # Archives of the other direction, from the command's copy of the event log (read before this run
        # wrote anything: what it reads is committed).
        self._pending = pending_archives(self.conn, self.run.version, self.run.direction) if self.enabled else []
        self._due: list[ArchiveStep] = []  # tables this run re-created: put back after its last statement
        self._finished: list[ArchiveStep] = []  # finish()'s restores (made again if its transaction is retried)
        self._restored: list[ArchiveStep] = []  # archives put back in full, dropped by drop_restored()

    def publish(self) -> None:
        """The run's report shows what was done instead of the plan."""
        if self.enabled:
            self.run.archives = [*self.made, *self._finished]

    # ---- before a statement: archive -----------------------------------------------------------
    def before(self, statement: StatementRun) -> None:
        if not self.enabled or not self.archive_new:
            return
        ops = self._destroyed(statement)
        if not ops:
            return
        for step in archive_steps(ops, self._snapshot(), self.run.version, self.run.direction):
            if self._empty(step.table):
                continue  # nothing to lose, nothing to keep
            if step.action == "archive":
                self._archive(step)
            else:
                step.note = cannot_archive_note(step, self.conn.project.settings.autoBackup)
            self.made.append(step)

    def _destroyed(self, statement: StatementRun) -> list:
        if not MAY_DESTROY.search(statement.sql):  # most statements: no parse
            return []
        return [
            op for op in statement_operations(statement.sql, self.engine.dialect, statement.index) if op.destructive
        ]

    def idle(self, statements: list[StatementRun]) -> bool:
        """Nothing to archive before, nor to put back after, any of these statements: they may run without the
        hook between them (sent together)."""
        if not self.enabled:
            return True
        return (
            not self._pending
            and not self._due
            and not (self.archive_new and any(self._destroyed(s) for s in statements))
        )

    def _empty(self, table: str) -> bool:
        return not self.engine.query(f"SELECT 1 FROM {self.engine.caps.quote(table)} LIMIT 1")

    def _archive(self, step: ArchiveStep) -> None:
        q = self.engine.caps.quote
        step.sql = create_sql(step, self.engine.dialect, in_transaction=self.run.mode != "per-statement")
        # A leftover of an attempt that failed before its statement ran (MariaDB): the data is still
        # in the table (the snapshot found it), so a fresh copy replaces the old one. An archive kept
        # because some of its rows could not be put back is never replaced: they exist nowhere else.
        if self.engine.table_exists(step.archive_table) and _last_action(self.conn, step) == "archive-kept":
            raise ArchiveKept(
                f"the archive table {step.archive_table} (same migration, direction and statement) "
                "still holds rows an earlier run could not put back (event log: archive-kept). Look at "
                "those rows, keep what you need, drop the table, then run the command again"
            )
        self.engine.execute(drop_sql(step, self.engine.dialect))
        for sql in step.sql:
            self.engine.execute(sql)
        step.rows = self.engine.query(f"SELECT COUNT(*) FROM {q(step.archive_table)}")[0][0]
        self._log("archive", step)

    def discard(self, statement: StatementRun) -> None:
        """The statement failed outside a transaction (MariaDB): it destroyed nothing, so its archives go."""
        for step in [s for s in self.made if s.statement_index == statement.index and s.action == "archive"]:
            try:
                self.engine.execute(drop_sql(step, self.engine.dialect))
                self._log("archive-discarded", step)
                self.made.remove(step)
            except Exception:  # noqa: BLE001 - the connection may be gone; prune removes it later
                step.note = "the statement failed; this archive could not be dropped (backup prune removes it)"

    # ---- after a statement: restore ------------------------------------------------------------
    def after(self, statement: StatementRun) -> None:
        if not self.enabled or not MAY_RECREATE.search(statement.sql):
            return
        ops = [op for op in statement_operations(statement.sql, self.engine.dialect, statement.index) if op.recreating]
        due = [a for a in self._pending if recreated(ops, a)] if ops else []
        if not due:
            return
        snapshot = self._snapshot()
        for archived in due:
            self._pending.remove(archived)
            if archived.what == "table":
                self._due.append(archived)  # its rows go back after the migration's own INSERTs: see finish()
            else:  # values of existing rows: back at once, so the statements after (SET NOT NULL, backfill) see them
                self.made.append(self._restore(archived, snapshot, statement.index))
                self.drop_restored()

    def finish(self) -> None:
        """After the run's last statement, in the transaction of its history record: put back the rows of the
        tables it re-created. Done at the end, not right after the CREATE, because the migration's own statements
        fill the table too (seed rows): a row they made is kept once and given its archived values, never
        inserted a second time (see `restore_sql`). Per-statement mode: the caller then commits, and drops the
        archives with drop_restored() (a DROP would commit the open transaction on MariaDB)."""
        if not self._due:
            return
        self._restored = []
        snapshot, last = self._snapshot(), self.run.statements[-1].index
        self._finished = [self._restore(archived, snapshot, last) for archived in self._due]
        if self.run.mode != "per-statement":
            self.drop_restored()

    def drop_restored(self) -> None:
        restored, self._restored = self._restored, []
        for archived in restored:
            try:
                self.engine.execute(drop_sql(archived, self.engine.dialect))
            except Exception:
                if self.run.mode != "per-statement":
                    raise  # inside the migration's transaction: it fails and rolls back as a whole
                step = next(s for s in [*self.made, *self._finished] if s.archive_table == archived.archive_table)
                step.note = "; ".join(
                    filter(
                        None,
                        [step.note, "the archive table could not be dropped (`db-migrate backup prune` removes it)"],
                    )
                )

    def _restore(self, archived: ArchiveStep, snapshot, index: int) -> ArchiveStep:
        step = archived.model_copy(
            update={"action": "restore", "statement_index": index, "rows": None, "sql": [], "note": ""}
        )
        why = restorable(archived, snapshot)
        if why:
            step.action, step.note = "not-restored", f"{why}: the archive {archived.archive_table} is kept"
            return step
        table = snapshot.table(archived.table)
        empty = self._empty(table.name)
        step.sql = restore_sql(archived, table, self.engine.dialect, empty)
        if not step.sql:
            step.action = "not-restored"
            step.note = (
                f"{archived.table} has no key and the migration's own statements already put rows in it: "
                f"the {archived.rows} archived rows cannot be told apart from them, so none is added; the "
                f"archive {archived.archive_table} is kept (compare it with {archived.table} and insert the "
                "missing rows by hand)"
            )
            self._log("archive-kept", step)
            return step
        if archived.what == "table":
            step.rows_present = 0 if empty else self._matched(archived, empty)
        for sql in step.sql:
            self.engine.execute(sql)
        if archived.what == "table":
            columns = [c.name for c in table.columns.values()]
            for sql in dialect_sql(self.engine.dialect).after_insert(self.engine, table.name, columns):
                self.engine.query(sql)
        step.rows = self._matched(archived, empty)
        step.note = self._restore_note(archived, step)
        if archived.what == "table" and step.rows != archived.rows:
            self._log("archive-kept", step)  # restored in part: the rows left out stay in the archive
            return step
        self._restored.append(archived)
        self._log("archive-restored", step)
        return step

    @staticmethod
    def _restore_note(archived: ArchiveStep, step: ArchiveStep) -> str:
        left = (archived.rows or 0) - step.rows
        notes = (
            [
                f"{step.rows_present} of these rows were already made by the migration's own statements: they "
                "were given their archived values"
            ]
            if step.rows_present
            else []
        )
        if left and archived.what == "table":
            notes.append(
                f"{left} archived row(s) not put back: a row of {archived.table} made by the migration has "
                f"the same unique key; the archive {archived.archive_table} keeps them"
            )
        elif left:
            notes.append(f"{left} archived row(s) no longer exist in {archived.table}")
        return "; ".join(notes)

    def _matched(self, archived: ArchiveStep, empty: bool) -> int:
        """Archived rows that found their row again (by key), i.e. the rows restored."""
        q = self.engine.caps.quote
        source = f"SELECT COUNT(*) FROM {q(archived.archive_table)} AS _a"
        if not archived.keys:
            return self.engine.query(source)[0][0] if empty else 0
        match = " AND ".join(f"_t.{q(k)} = _a.{q(k)}" for k in archived.keys)
        return self.engine.query(f"{source} WHERE EXISTS (SELECT 1 FROM {q(archived.table)} AS _t WHERE {match})")[0][0]

    # ---- reading -------------------------------------------------------------------------------
    def _snapshot(self):
        from ..analysis.schema import read_schema

        return read_schema(self.engine, exclude=(self.conn.history.table, self.conn.history.log_table))

    def _log(self, action: str, step: ArchiveStep) -> None:
        log_event(self.conn, step, action, self.run.name, statements_done=step.statement_index)


def cannot_archive_note(step: ArchiveStep, backup: bool) -> str:
    where = (
        "the pre-migration backup holds them"
        if backup
        else "no backup holds them (autoBackup is off): take one first (`db-migrate backup create`)"
    )
    return f"values of {step.target} cannot be archived by key: no primary key or unique NOT NULL key; {where}"


# ---- the event log -----------------------------------------------------------------------------
def log_event(conn: Connection, step: ArchiveStep, action: str, name: str | None, **fields) -> None:
    """Write an archive event; the command's copy of the live archives is read again on next use."""
    conn.history.log(
        step.version, name, action, "ok", author=conn.project.author(), detail=event_detail(step), **fields
    )
    conn.live_archives = None


def event_detail(step: ArchiveStep) -> str:
    """One line a person reads in `db-migrate history`, then the step as JSON (what a restore reads)."""
    present = f" ({step.rows_present} already present from the migration's own statements)" if step.rows_present else ""
    rows = "" if step.rows is None else f"{step.rows} rows{present}, "
    return f"{step.target}: {rows}{step.archive_table}\n{step.model_dump_json(exclude={'sql'})}"


def _step_of(detail: str) -> ArchiveStep:
    return ArchiveStep.model_validate_json(detail.split("\n", 1)[-1])


def archive_events(conn: Connection, version: str | None = None) -> list[tuple[str, ArchiveStep, object]]:
    """(action, step, at) of every archive event, oldest first (of one migration when `version`)."""
    log = conn.history.log_table
    if not conn.engine.table_exists(log):
        return []
    p = conn.engine.param
    where = f"action IN ({', '.join([p] * len(EVENTS))})" + (f" AND version = {p}" if version else "")
    rows = conn.engine.query(
        f"SELECT action, detail, at FROM {log} WHERE {where} ORDER BY id", [*EVENTS, *([version] if version else [])]
    )
    return [(action, _step_of(detail), at) for action, detail, at in rows if detail]


def live_archives(
    conn: Connection, version: str | None = None, *, kept: bool = False
) -> list[tuple[ArchiveStep, object]]:
    """Archives made and not yet restored, discarded or dropped, whose table still exists (kept=True: every
    archive table still there, also those kept after a restore that could not put every row back)."""
    alive: dict[str, tuple[ArchiveStep, object]] = {}
    for action, step, at in archive_events(conn, version):
        if action == "archive" and step.archive_table:
            alive[step.archive_table] = (step, at)
        elif not kept:
            alive.pop(step.archive_table or "", None)
    if not alive:
        return []
    existing = {t.lower() for t in conn.engine.tables() if t.lower().startswith(PREFIX)}
    return [(s, at) for s, at in alive.values() if s.archive_table.lower() in existing]


def _last_action(conn: Connection, step: ArchiveStep) -> str | None:
    """The last event of the archive table `step` would create (of its version)."""
    actions = [a for a, s, _ in archive_events(conn, step.version) if s.archive_table == step.archive_table]
    return actions[-1] if actions else None


def pending_archives(conn: Connection, version: str, direction: str) -> list[ArchiveStep]:
    """What the other direction of `version` archived and this direction may put back.

    The event log is read once per command for every version (not once per migration: a long log
    would be scanned by each), and again only after the command wrote an archive event."""
    if conn.live_archives is None:
        conn.live_archives = {}
        for step, _ in live_archives(conn):
            conn.live_archives.setdefault(step.version, []).append(step)
    return [s for s in conn.live_archives.get(version, []) if s.direction != direction]


# ---- planning (dry run, approval plan) ---------------------------------------------------------
def plan_archives(conn: Connection, runs: list[MigrationRun], scripts: list[Script]) -> None:
    """Fill each run's `archives` with what the runner will archive and restore, on the live schema
    advanced statement by statement (a migration earlier in the plan may add what a later one drops)."""
    if not conn.project.settings.rollback.archiveDestroyedData or not _may_matter(conn, runs, scripts):
        return
    from ..analysis.schema import read_schema
    from ..analysis.simulate import Replay

    live = read_schema(conn.engine, exclude=(conn.history.table, conn.history.log_table))
    replay = Replay(live.copy())
    for run, script in zip(runs, scripts):
        if script.is_python:
            replay.run_python()
            continue
        pending, due = pending_archives(conn, run.version, run.direction), []
        for statement in run.statements:
            ops = statement_operations(statement.sql, conn.engine.dialect, statement.index)
            run.archives += _planned(conn, live, replay, run, ops)
            replay.run(ops)
            for archived in [a for a in pending if recreated(ops, a)]:
                pending.remove(archived)
                if archived.what == "table":  # put back after the last statement (Archiver.finish)
                    due.append(archived)
                else:
                    run.archives.append(_planned_restore(conn, replay, archived, statement.index))
        last = run.statements[-1].index if run.statements else 0
        run.archives += [_planned_restore(conn, replay, archived, last) for archived in due]


LOSS_RULES = ("drop-column", "drop-table", "type-narrowing")  # findings whose lost data an archive keeps


def mark_archived(report: RunReport, *, emergency: bool = False) -> None:
    """The findings and rollback-plan losses that an archive keeps say which archive table keeps them."""
    runs = {run.version: run for run in report.migrations}
    for finding in report.findings:
        kept = _archive_of(runs, finding.migration, finding) if finding.rule in LOSS_RULES else None
        if kept:
            back = (
                f"a rollback of {finding.migration}"
                if finding.direction == "up"
                else f"applying {finding.migration} again"
            )
            finding.message += f" They are archived first into {kept}: {back} puts them back."
    if report.rollback_plan is None:
        return
    if emergency:
        report.rollback_plan.notes.append(
            "--emergency: nothing the DOWN destroys is archived first "
            "(rollback.archiveDestroyedData is skipped, like the backup)"
        )
        return
    for step in report.rollback_plan.steps:
        for loss in step.destroys:
            loss.archived_into = _archive_of(runs, step.version, loss)


def _archive_of(runs: dict[str, MigrationRun], version: str | None, loss) -> str | None:
    """The archive table planned to keep what `loss` (a finding or a DataLoss: statement_index, table,
    column) destroys in migration `version`, if any."""
    archives = [a for a in getattr(runs.get(version), "archives", []) if a.action == "archive"]
    return next((a.archive_table for a in archives if _keeps(a, loss)), None)


def _keeps(archive: ArchiveStep, loss) -> bool:
    if archive.statement_index != loss.statement_index or key(archive.table) != key(loss.table or ""):
        return False
    if loss.column is None:
        return archive.what == "table"
    return [key(c) for c in archive.columns] == [key(loss.column)]


def _may_matter(conn: Connection, runs: list[MigrationRun], scripts: list[Script]) -> bool:
    """A statement that destroys what an archive keeps (read, where the text may: the checks have read them all
    already), or an archive this plan may put back. Else no replay: an ALTER that only adds costs nothing here."""
    dialect = conn.engine.dialect
    if any(
        op.destructive
        for run in runs
        for s in run.statements
        if MAY_DESTROY.search(s.sql)
        for op in statement_operations(s.sql, dialect, s.index)
    ):
        return True
    return any(pending_archives(conn, run.version, run.direction) for run in runs)


def _planned(conn: Connection, live, replay, run: MigrationRun, ops) -> list[ArchiveStep]:
    steps = archive_steps(ops, replay.schema, run.version, run.direction)
    for step in steps:
        if step.action == "archive":
            step.sql = create_sql(step, conn.engine.dialect)
            step.rows_estimate = _rows(conn, step.table) if live.table(step.table) else 0
        else:
            step.note = cannot_archive_note(step, conn.project.settings.autoBackup)
    return steps


def _rows(conn: Connection, table: str) -> int:
    """Rows of a table for a plan: counted when small (a fresh table's catalog estimate is often 0),
    else the catalog estimate."""
    estimate = conn.engine.table_stats(table).rows
    if estimate >= COUNT_BELOW:
        return estimate
    return conn.engine.query(f"SELECT COUNT(*) FROM {conn.engine.caps.quote(table)}")[0][0]


def _planned_restore(conn: Connection, replay, archived: ArchiveStep, index: int) -> ArchiveStep:
    step = archived.model_copy(
        update={"action": "restore", "statement_index": index, "rows": None, "rows_estimate": archived.rows, "note": ""}
    )
    why = restorable(archived, replay.schema)
    if why:
        step.action, step.note = "not-restored", f"{why}: the archive {archived.archive_table} is kept"
        return step
    step.sql = restore_sql(archived, replay.schema.table(archived.table), conn.engine.dialect, table_empty=False)
    step.sql.append(drop_sql(archived, conn.engine.dialect))
    return step


# ---- clean-up ----------------------------------------------------------------------------------
def prune_archives(conn: Connection, keep_days: int) -> list[ArchiveStep]:
    """Drop archive tables made more than `keep_days` days ago that are still there: never restored (e.g. a
    migration never rolled back), or kept with rows a restore could not put back; each drop is an
    `archive-dropped` event."""
    cutoff = utcnow() - timedelta(days=keep_days)
    dropped = []
    for step, at in live_archives(conn, kept=True):
        if as_utc(at) < cutoff:
            conn.engine.execute(drop_sql(step, conn.engine.dialect))
            log_event(conn, step, "archive-dropped", None)
            dropped.append(step)
    return dropped
