"""Running one migration in one direction, and recording it.

Two modes, chosen by capability, never by database name:
* transaction: the statements and the history change commit together or not at all
  (PostgreSQL, SQLite). A lock timeout (engine.is_lock_timeout) rolls back and retries with backoff.
* per-statement: DDL auto-commits (MySQL/MariaDB) or must run outside a transaction
  (CREATE INDEX CONCURRENTLY...). The history row records progress after every statement,
  so a failure or a crash leaves "dirty at statement k of n", never a silent half-migration.
"""

from __future__ import annotations

import importlib.util
import random
import re
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..dialects.base import BatchFailed, Engine, Transaction
from ..errors import Cancelled, ConnectionLost, MigrationError, StatementFailed
from ..history import APPLIED, HistoryRow, utcnow
from ..migrations.model import Migration, Script
from ..reports import MigrationRun, StatementRun
from ..urls import redact
from .context import Connection, Progress, ProgressEvent

# Statements that change rows only: they commit with a transaction on every server (DDL auto-commits
# on MySQL/MariaDB, and some PostgreSQL statements refuse a transaction block).
_DML = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def is_dml(sql: str) -> bool:
    return bool(_DML.match(sql))


class MigrationContext:
    """What a Python migration's up(ctx)/down(ctx) receives."""

    def __init__(self, conn: Connection, stop_if_asked: Callable[[], None] = lambda: None) -> None:
        self._engine = conn.engine
        self._stop_if_asked = stop_if_asked
        self.dialect = conn.engine.dialect
        self.param = conn.engine.param

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        self._stop_if_asked()  # between the batches of a backfill, when the migration runs in a transaction
        return self._engine.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self._engine.query(sql, params)


def mode_for(engine: Engine, script: Script) -> tuple[str, str | None]:
    """The run mode, and why it is not one transaction (said in the plan, never silently). The one place it is
    decided: the run, the analysis's rules (a rule that needs one transaction) and the server check all ask here."""
    if script.is_python:
        return "python", None
    if not engine.caps.transactional_ddl:
        return "per-statement", (
            "DDL commits implicitly on this server: statement by statement, progress recorded after each "
            "(where statements only add tables, columns or indexes, the schema shows it)"
        )
    if script.no_transaction:
        return "per-statement", "the file asks for no transaction: statement by statement, progress recorded after each"
    blocking = next((i for i, s in enumerate(script.statements, start=1) if engine.needs_autocommit(s)), None)
    if blocking:
        return "per-statement", (
            f"statement {blocking} ({_preview(script.statements[blocking - 1], 60)}) cannot run "
            "inside a transaction block: every statement runs on its own (BEGIN/COMMIT in the "
            "file are not used), progress recorded after each"
        )
    return "transaction", None


def plan_run(conn: Connection, version: str, name: str, direction: str, script: Script) -> MigrationRun:
    mode, reason = mode_for(conn.engine, script)
    statements = [
        StatementRun(index=i, sql=sql, outside_transaction=mode == "per-statement")
        for i, sql in enumerate(script.statements, start=1)
    ]
    return MigrationRun(
        version=version,
        name=name,
        direction=direction,
        mode=mode,
        mode_reason=reason,
        statements=statements,
        python_source=script.source if script.is_python else None,
    )


class Runner:
    def __init__(self, conn: Connection, author: str, progress: Progress | None, position: tuple[int, int]) -> None:
        self.conn = conn
        self.engine = conn.engine
        self.history = conn.history
        self.settings = conn.project.settings
        self.author = author
        self.progress = progress
        self.position = position
        self.committed = 0  # per-statement mode: statements committed so far (what a failure record says)

    # ---- apply -------------------------------------------------------------------------
    def apply(
        self,
        migration: Migration,
        run: MigrationRun,
        *,
        start_at: int | None = None,
        backup_id: str | None = None,
        next_up: Migration | None = None,
        quick: bool = False,
    ) -> None:
        """start_at=None: a fresh run (inserts the history row); a number: resume the dirty row from there.
        next_up: the migration this command applies next, whose "running" row may commit with this one's record.
        quick: it only changes tables this apply created (service/sent_together.py): where each statement commits
        on its own, its statements and record may go in one round trip (_run_at_once)."""
        started = time.monotonic()
        row = self._new_row(migration, backup_id)
        self._emit("migration", f"Applying {migration.label} ({run.mode})")
        self._stop_if_asked(run)
        self.archiver = _archiver(self.conn, run)
        if run.mode == "transaction" or (run.mode == "python" and self._python_in_transaction(migration.up)):
            self._with_retries(run, lambda: self._apply_in_transaction(migration, run, row, started))
        else:
            ahead = self._started_ahead(next_up, backup_id)
            self._apply_per_statement(migration, run, row, started, start_at, ahead, quick)
        self.archiver.publish()
        run.status = "applied"
        run.duration_ms = _ms(started)

    def sendable(self, migration: Migration, run: MigrationRun) -> bool:
        """May `run` go in apply_together: one transaction as written, nothing to do between its statements."""
        plain = run.mode == "transaction" and (run.strategy is None or not run.strategy.rewrites)
        return plain and self._batchable(migration.up, run, _archiver(self.conn, run))

    def apply_together(self, items: Sequence[tuple[Migration, MigrationRun]], backup_id: str | None) -> None:
        """Consecutive migrations sent together (Engine.run_transactions): each in its own transaction with its
        history row and event (timed by the server's clock), sent without waiting for the one before. Only for
        migrations on tables the same apply created (service/sent_together.py): they take milliseconds and no
        lock anyone else holds (so there is no lock wait to retry), and each is announced as the one before it
        commits. A failure raises as apply() does, for the first migration not applied; the ones before it are
        applied."""
        transactions = []
        for migration, run in items:
            row = self._new_row(migration, backup_id)
            row.statements_done = row.statements_total
            transactions.append(Transaction([s.sql for s in run.statements], partial(self._record_sent, run, row)))
        runs = [run for _, run in items]
        announced = 0

        def committed(count: int) -> None:  # the first `count` committed: the next one runs now
            nonlocal announced
            for offset in range(announced, min(count + 1, len(runs))):
                self._announce(runs[offset], offset)
            announced = max(announced, count + 1)

        committed(0)
        try:
            self.engine.run_transactions(transactions, committed)
        except BatchFailed as exc:
            self._applied(runs[: exc.transaction])
            run, later = runs[exc.transaction], len(runs) - exc.transaction - 1
            if exc.index == 0:  # its history record or its COMMIT
                raise outside_statement_failure(self.conn, run, exc.cause) from None
            raise self._batch_failed(run, exc, later) from None
        self._applied(runs)

    def _record_sent(self, run: MigrationRun, row: HistoryRow) -> None:
        self.history.insert(row, by_server=True)
        self._log_ok(run, "apply", row.author, time.monotonic(), by_server=True)

    def _applied(self, runs: list[MigrationRun]) -> None:
        """Runs sent together that committed: applied, with the durations their history rows recorded."""
        durations = self.history.durations([r.version for r in runs]) if runs else {}
        for run in runs:
            for statement in run.statements:
                statement.status = "done"
            run.status, run.duration_ms = "applied", durations.get(run.version)

    def _apply_in_transaction(self, migration: Migration, run: MigrationRun, row: HistoryRow, started: float) -> None:
        # The history row and the log event commit with the migration: one commit per migration, and
        # never a migration recorded without its event (or the other way round).
        def record() -> None:
            row.duration_ms = _ms(started)
            row.statements_done = row.statements_total
            self.history.insert(row)
            self._log_ok(run, "apply", row.author, started)

        self._in_transaction(migration.up, run, record)

    def _new_row(self, migration: Migration, backup_id: str | None) -> HistoryRow:
        return HistoryRow(
            version=migration.version,
            name=migration.name,
            checksum=migration.checksum,
            applied_at=utcnow(),
            author=migration.author or self.author,
            strategy=migration.strategy or self.settings.strategy,
            statements_total=max(len(migration.up.statements), 1),
            backup_id=backup_id,
            down_script=migration.down.source if migration.down else None,
        )

    def _started_ahead(self, next_up: Migration | None, backup_id: str | None) -> HistoryRow | None:
        """The next migration's "running" row, to insert with this one's final record: one commit fewer per
        migration where each is a commit of its own (MariaDB). Not when a surface may cancel between two
        migrations: the next one would be left "running" without having started."""
        if next_up is None or self.engine.caps.transactional_ddl or getattr(self.progress, "cancelled", None):
            return None
        ahead = self._new_row(next_up, backup_id)
        ahead.status = "running"
        return ahead

    def _apply_per_statement(
        self,
        migration: Migration,
        run: MigrationRun,
        row: HistoryRow,
        started: float,
        start_at: int | None,
        ahead: HistoryRow | None,
        quick: bool = False,
    ) -> None:
        if start_at is None:
            start_at, row.status = 1, "running"
            if self.history.started_ahead != migration.version:  # else the previous migration's record inserted it
                self.history.insert(row)
            self.history.started_ahead = None
        else:  # resolve --retry: the dirty row is there already, possibly failed at statement 1
            self.history.update(migration.version, status="running", error=None, statements_done=start_at - 1)

        def finish(by_server: bool = False) -> None:
            self.history.update(
                migration.version,
                status=APPLIED,
                applied_at=utcnow(),
                duration_ms=_ms(started),
                statements_done=row.statements_total,
                error=None,
                by_server=by_server,
            )
            self._log_ok(run, "apply", row.author, started, by_server=by_server)
            if ahead is not None:
                self.history.insert(ahead)

        try:
            self._run_recorded(migration.up, run, start_at, finish, at_once=quick)
        except StatementFailed as exc:
            self.archiver.publish()  # committed archives are real: the report shows them
            self._record_failure(exc, migration.version, "failed")
            raise
        if ahead is not None:  # committed with the final record
            self.history.started_ahead = ahead.version

    # ---- rollback ----------------------------------------------------------------------
    def rollback(
        self,
        row: HistoryRow,
        script: Script,
        run: MigrationRun,
        *,
        start_at: int = 1,
        note: str | None = None,
        archive: bool = True,
    ) -> None:
        """archive=False: archived data is still put back, but nothing new is archived (autoOnFailure
        undoing what this same command applied: the data it destroys did not exist before the command)."""
        started = time.monotonic()
        self._emit("migration", f"Rolling back {row.version}_{row.name} ({run.mode})")
        self._stop_if_asked(run)
        self.archiver = _archiver(self.conn, run, archive_new=archive)
        if run.mode == "transaction" or (run.mode == "python" and self._python_in_transaction(script)):

            def record() -> None:
                self.history.delete(row.version)
                self._log_ok(run, "rollback", self.author, started, note)

            self._with_retries(run, lambda: self._in_transaction(script, run, record))
        else:
            self.history.update(row.version, status="rolling_back", statements_done=start_at - 1, error=None)

            def finish() -> None:
                self.history.delete(row.version)
                self._log_ok(run, "rollback", self.author, started, note)

            try:
                self._run_recorded(script, run, start_at, finish)
            except StatementFailed as exc:
                self.archiver.publish()
                self._record_failure(exc, row.version, "rollback_failed")
                raise
        self.archiver.publish()
        run.status = "rolled-back"
        run.duration_ms = _ms(started)

    def _log_ok(
        self,
        run: MigrationRun,
        action: str,
        author: str | None,
        started: float,
        detail: str | None = None,
        *,
        by_server: bool = False,
    ) -> None:
        self.history.log(
            run.version,
            run.name,
            action,
            "ok",
            duration_ms=_ms(started),
            author=author,
            statements_done=len(run.statements),
            detail=detail,
            by_server=by_server,
        )

    # ---- statements --------------------------------------------------------------------
    def _in_transaction(self, script: Script, run: MigrationRun, record: Callable[[], None]) -> None:
        """The script and its history record (`record`) in one transaction."""
        if self._batchable(script, run, self.archiver):
            self._run_batch(run, record)
            return
        with self.engine.transaction():
            self.archiver.reset()
            self._run_script(script, run)
            record()

    def _batchable(self, script: Script, run: MigrationRun, archiver) -> bool:
        """The engine may send the statements together (pipeline mode) and nothing has to happen between them."""
        return self.engine.caps.pipelined and self._nothing_between(script, run, archiver)

    def _nothing_between(self, script: Script, run: MigrationRun, archiver) -> bool:
        """SQL statements between which nothing has to happen: no archive to take or put back, nobody who may
        cancel between two of them."""
        return (
            not script.is_python
            and bool(run.statements)
            and getattr(self.progress, "cancelled", None) is None
            and archiver.idle(run.statements)
        )

    def _run_batch(self, run: MigrationRun, record: Callable[[], None]) -> None:
        """Every statement in one round trip, the record and COMMIT in one more (PostgreSQL: 2 instead of one
        per statement, BEGIN, history row, event and COMMIT). A failure names its statement as one by one does."""
        self._announce(run)

        def all_done_then_record() -> None:
            for statement in run.statements:
                statement.status = "done"  # sent together: no duration of their own
            record()

        try:
            self.engine.run_transaction([s.sql for s in run.statements], all_done_then_record)
        except BatchFailed as exc:
            raise self._statement_failed(run, _ran_until(run, exc), exc.cause) from None

    def _announce(self, run: MigrationRun, offset: int | None = None) -> None:
        """The progress events of a migration whose statements are sent together; `offset`: its place in a batch of
        migrations (apply_together), which says it (else apply() has said it)."""
        if offset is not None:
            self._emit("migration", f"Applying {run.version}_{run.name} ({run.mode}, sent together)", at=offset)
        for statement in run.statements:
            self._emit("statement", _preview(statement.sql), statement.index, len(run.statements), at=offset or 0)

    def _batch_failed(self, run: MigrationRun, exc: BatchFailed, later: int) -> StatementFailed:
        """The failure of statement exc.index of `run` sent together with `later` migrations after it (every
        statement before it ran), as one by one reports it; raises ConnectionLost when the session ended."""
        failed = _ran_until(run, exc)
        if not connection_alive(self.conn):
            failed.status = "failed"
            raise lost_while_sent(self.conn, run, failed, exc.cause, later) from None
        return self._statement_failed(run, failed, exc.cause)

    def _run_script(self, script: Script, run: MigrationRun) -> None:
        """Inside the migration's transaction: the caller records it."""
        if script.is_python:
            self._run_python(script, run, stoppable=True)
            return
        for statement in run.statements:
            self._stop_if_asked(run, in_transaction=True)
            self._run_statement(run, statement, retry=False)
            self._restore_after(run, statement)
        if run.statements:
            self._restore_after(run, run.statements[-1], at_end=True)

    def _run_recorded(
        self, script: Script, run: MigrationRun, start_at: int, finish: Callable[..., None], *, at_once: bool = False
    ) -> None:
        """Per-statement mode: each statement commits on its own and its progress is recorded after it; the
        last one's record is `finish` (final history change and event, one commit). A DML statement commits
        in one transaction with its record, so it is never left "may or may not have completed".
        at_once: a quick migration (apply's), which _run_at_once may send in one round trip."""
        self.committed = start_at - 1
        if script.is_python:
            self._run_python(script, run)
            self.committed = 1
        todo = [s for s in run.statements if s.index >= start_at]
        for statement in run.statements[: len(run.statements) - len(todo)]:
            statement.status = "skipped"
        unrecorded = self._unrecorded(script, run)
        if at_once and self._sendable_at_once(script, run, todo, unrecorded):
            self._run_at_once(run, partial(self._finish_with_restores, run, partial(finish, by_server=True)))
            return
        for statement in todo:
            last = statement is todo[-1]
            if last:
                record = partial(self._finish_with_restores, run, finish)
            elif statement.index in unrecorded:
                record = _nothing
            else:
                record = partial(self.history.update, run.version, statements_done=statement.index)
            if is_dml(statement.sql):
                self._run_with_record(run, statement, record)
            else:
                self._run_statement(run, statement, retry=True)
                self.committed = statement.index
                self._restore_after(run, statement)
                if not last:
                    record()
                elif self.archiver.idle(run.statements):  # nothing to put back: the final record only writes
                    self.engine.record_together(record)
                else:
                    with self.engine.transaction():
                        record()
            self.committed = statement.index
        if not todo:
            with self.engine.transaction():
                finish()
        self.archiver.drop_restored()  # after the final record committed: a DROP commits on MariaDB

    def _sendable_at_once(self, script: Script, run: MigrationRun, todo: list, unrecorded: set[int]) -> bool:
        """A server that takes it as one query, nothing to do between its statements (_nothing_between), all of it to
        run, no progress record between its statements, and no DML (it commits with its record)."""
        return (
            self.engine.caps.multi_statements
            and self._nothing_between(script, run, self.archiver)
            and len(todo) == len(run.statements)
            and all(s.index in unrecorded for s in todo[:-1])
            and not any(is_dml(s.sql) for s in todo)
        )

    def _run_at_once(self, run: MigrationRun, finish: Callable[[], None]) -> None:
        """Every statement, then the final record, in one round trip (Engine.run_then_record; one by one, each is
        one). Timed by the server's clock: the record is written before the statements have run."""
        self._announce(run)
        try:
            self.engine.run_then_record([s.sql for s in run.statements], finish)
        except BatchFailed as exc:
            self.committed = exc.index - 1
            raise self._statement_failed(run, _ran_until(run, exc), exc.cause) from None
        except Exception:  # the final record failed: every statement had run, and committed
            for statement in run.statements:
                statement.status = "done"
            self.committed = len(run.statements)
            raise
        for statement in run.statements:
            statement.status = "done"
        self.committed = len(run.statements)

    def _unrecorded(self, script: Script, run: MigrationRun) -> set[int]:
        """The statements whose progress record is left out (each is a commit: on MariaDB a third of a small
        migration's time): those after which a crash is read from the live schema alone (crash_check), in a run
        with no archive to take or put back between them."""
        from .crash_check import unrecorded_after  # sqlglot: apply has loaded it already (plan and rules)

        if script.is_python or not self.archiver.idle(run.statements):
            return set()
        return {i for i in range(1, len(script.statements)) if unrecorded_after(script.statements, i, self.engine)}

    def _finish_with_restores(self, run: MigrationRun, finish: Callable[[], None]) -> None:
        """The final record, with the archived rows of the tables the run re-created put back in its transaction
        (DML: committed together); the caller drops the archives once it committed."""
        self._restore_after(run, run.statements[-1], at_end=True)
        finish()

    def _run_with_record(self, run: MigrationRun, statement: StatementRun, record: Callable[[], None]) -> None:
        """A DML statement and its record in one transaction (DML re-creates nothing an archive would put
        back). A lock timeout rolls both back, and it is retried with backoff like any statement."""

        def attempt() -> None:
            with self.engine.transaction():
                self._run_statement(run, statement, retry=False)
                record()

        self._with_retries(run, attempt, [statement])

    def _run_statement(self, run: MigrationRun, statement: StatementRun, *, retry: bool) -> None:
        self._emit("statement", _preview(statement.sql), statement.index, len(run.statements))
        started = time.monotonic()
        attempts = self.settings.ddlLockRetries + 1 if retry else 1
        invalid_before = self._invalid_indexes(statement.sql)
        for attempt in range(1, attempts + 1):
            try:
                self._archive_before(statement)
                self.engine.execute(statement.sql)
                break
            except Exception as exc:  # noqa: BLE001 - any driver error is reported with its statement
                statement.leftovers = self._leftovers(statement.sql, invalid_before)
                if retry:  # outside a transaction: the failed statement destroyed nothing, its archives go
                    self.archiver.discard(statement)
                if retry and attempt < attempts and self.engine.is_lock_timeout(exc) and not statement.leftovers:
                    run.lock_retries += 1
                    _backoff(attempt)
                    continue
                failure = self._statement_failed(run, statement, exc)
                if retry and failure.lock_timeout:  # outside a transaction: who blocks can be asked right away
                    self._explain_lock_wait(run, statement, failure, attempt, started)
                raise failure from None
        statement.status, statement.duration_ms = "done", _ms(started)

    def _statement_failed(self, run: MigrationRun, statement: StatementRun, exc: BaseException) -> StatementFailed:
        """Mark `statement` failed with the server's error and return the failure to raise; raises ConnectionLost
        instead when the server went away, or ended our session."""
        statement.status, statement.error = "failed", _clean(exc, self.conn)
        if not connection_alive(self.conn):
            raise connection_lost(self.conn, run, exc) from None
        return self._failure(run, statement, self.engine.is_lock_timeout(exc))

    def _archive_before(self, statement: StatementRun) -> None:
        try:
            self.archiver.before(statement)
        except Exception as exc:
            if self.engine.is_lock_timeout(exc):
                raise  # waiting for the table lock: retried like the statement itself
            raise ArchiveFailed(
                f"archiving what the statement destroys failed, so the statement did not run: {_clean(exc, self.conn)}"
            ) from None

    def _restore_after(self, run: MigrationRun, statement: StatementRun, *, at_end: bool = False) -> None:
        """Put archived data back after the statement that re-created its column (at_end: its table, after the
        run's last statement)."""
        try:
            self.archiver.finish() if at_end else self.archiver.after(statement)
        except Exception as exc:  # noqa: BLE001 - the statement itself ran; say so precisely
            statement.status, statement.error = "failed", f"restoring archived data failed: {_clean(exc, self.conn)}"
            committed = run.mode == "per-statement"
            error = StatementFailed(
                f"{run.version}_{run.name}: statement {statement.index} ran, but putting the archived data back "
                f"failed: {_clean(exc, self.conn)}",
                state=(
                    f"Statements 1..{statement.index} are committed; the archive tables are kept (the event log "
                    "lists them)."
                    if committed
                    else f"Unchanged for {run.version}_{run.name}: its transaction was rolled back."
                ),
                next_step="Fix the cause (the restore SQL is in the report), then run the command again.",
            )
            error.lock_timeout = False
            raise error from None

    def _run_python(self, script: Script, run: MigrationRun, stoppable: bool = False) -> None:
        module_name = f"mm_migration_{run.version}_{run.direction}"
        spec = importlib.util.spec_from_loader(module_name, loader=None)
        module = importlib.util.module_from_spec(spec)
        try:
            exec(compile(script.source, f"{run.version}_{run.name}.py", "exec"), module.__dict__)  # noqa: S102 -- a Python migration is code the user wrote to run
            stop = partial(self._stop_if_asked, run, in_transaction=True) if stoppable else (lambda: None)
            getattr(module, script.python_callable)(MigrationContext(self.conn, stop))
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - user code: report it, never crash the runner
            run.error = f"{type(exc).__name__}: {_clean(exc, self.conn)}"
            raise StatementFailed(
                f"{run.version}_{run.name}: {script.python_callable}(ctx) raised {run.error}"
            ) from None

    def _with_retries(self, run: MigrationRun, attempt_once, statements: list[StatementRun] | None = None) -> None:
        """Transactional attempt; a lock_timeout rolled everything back, so it is safe to retry. `statements`:
        those the attempt runs (default: all of the run), planned again before a retry."""
        since, attempted = time.monotonic(), statements or run.statements
        for attempt in range(1, self.settings.ddlLockRetries + 2):
            try:
                attempt_once()
                return
            except StatementFailed as exc:
                if not exc.lock_timeout:
                    raise
                if attempt > self.settings.ddlLockRetries:  # rolled back: the session can ask who blocks
                    failed = next(s for s in attempted if s.status == "failed")
                    self._explain_lock_wait(run, failed, exc, attempt, since)
                    raise
                run.lock_retries += 1
                for statement in attempted:
                    statement.status, statement.error = "planned", None
                _backoff(attempt)

    def _invalid_indexes(self, sql: str) -> set[str] | None:
        """Before a statement that runs outside a transaction: the invalid indexes already there."""
        if not self.engine.needs_autocommit(sql):
            return None
        try:
            return self.engine.invalid_indexes()
        except Exception:  # noqa: BLE001 - only used to explain a failure
            return None

    def _leftovers(self, sql: str, before: set[str] | None) -> list[str]:
        """INVALID indexes the failed statement left (a failed CREATE INDEX CONCURRENTLY is not cleaned up)."""
        if before is None:
            return []
        try:
            after = self.engine.invalid_indexes()
        except Exception:  # noqa: BLE001 - the connection may be gone
            return []
        named = self.engine.index_named_by(sql)
        return sorted(i for i in after if i not in before or i == named)

    def _failure(self, run: MigrationRun, statement: StatementRun, lock_timeout: bool) -> StatementFailed:
        total = len(run.statements)
        verb = "apply" if run.direction == "up" else "rollback"
        if run.mode == "per-statement":
            state = (
                f"DIRTY: {run.version}_{run.name} stopped at statement {statement.index} of {total} ({verb}); "
                f"{committed_statements(statement.index - 1)}, {statement.index}..{total} did not run."
            )
            step = (
                f"Fix the cause, then `db-migrate resolve {run.version} --retry` (re-runs from statement "
                f"{statement.index}), or finish/undo it by hand and use `--mark-applied` / `--mark-not-applied`."
            )
        else:
            state = (
                f"Unchanged for {run.version}_{run.name}: its transaction was rolled back, nothing of it is committed."
            )
            step = "Fix the migration (or the data it trips on) and run the command again."
        left = ""
        if statement.leftovers:
            names = ", ".join(statement.leftovers)
            drops = " ".join(self.engine.drop_invalid_index_sql(i) for i in statement.leftovers)
            left = (
                f"\n  The failed statement left the INVALID index {names} behind (not used by queries, but its "
                f"name is taken and writes still maintain it): drop it with `{drops}`"
            )
            state += f" The INVALID index {names} is left behind."
            step = f"First `{drops}`. Then: {step}"
        error = StatementFailed(
            f"{verb.capitalize()} of {run.version}_{run.name} failed at statement {statement.index} of {total}: "
            f"{statement.error}\n  SQL: {_preview(statement.sql, 300)}{left}",
            state=state,
            next_step=step,
        )
        error.lock_timeout = lock_timeout
        return error

    def _explain_lock_wait(
        self, run: MigrationRun, statement: StatementRun, error: StatementFailed, tries: int, since: float
    ) -> None:
        """A statement that gave up waiting for a table lock on every try: say so, who holds the lock, and how
        to get through (the data is not the problem, so "fix the migration" would send the user the wrong way)."""
        tables = _tables_named(statement.sql, self.conn.project.dialect)
        try:
            blockers = self.engine.lock_blockers(tables) if tables else []
        except Exception:  # noqa: BLE001 - only decoration: the lock wait itself is the news
            blockers = []
        on = f" on {', '.join(tables)}" if tables else ""
        who = (
            "; ".join(blockers)
            if blockers
            else f"no other session holds a lock{on} now (the blocker has finished, or the server does not show it)"
        )
        verb = "apply" if run.direction == "up" else "rollback"
        timeout = self.settings.ddlLockTimeoutMs
        per_try = f"lock timeout {timeout} ms per try" if timeout else "the server's own lock timeout"
        error.message = (
            f"{verb.capitalize()} of {run.version}_{run.name} failed at statement {statement.index} of "
            f"{len(run.statements)}: it waited for a lock{on} held by another session and gave up after {tries} "
            f"tr{'y' if tries == 1 else 'ies'} over {time.monotonic() - since:.1f}s ({per_try}).\n"
            f"  Blocking: {who}\n  Server: {statement.error}\n  SQL: {_preview(statement.sql, 300)}"
        )
        again = (
            f"`db-migrate resolve {run.version} --retry` (re-runs from statement {statement.index})"
            if run.mode == "per-statement"
            else "run the command again"
        )
        error.next_step = (
            f"When the blocking session has finished (or after ending it on the server), {again}. Or let the "
            f"statement wait longer: raise ddlLockTimeoutMs (now {timeout}) or ddlLockRetries (now "
            f"{self.settings.ddlLockRetries}) in the configuration."
        )

    def _record_failure(self, exc: StatementFailed, version: str, status: str) -> None:
        try:
            self.history.update(version, status=status, error=exc.message[:2000], statements_done=self.committed)
        except Exception:  # noqa: BLE001 - the server may be gone; the original error matters more
            exc.state += (
                " The failure could not be recorded (the connection was lost): the history row still says "
                "the run is in progress, and `db-migrate status` will report it as interrupted."
            )

    def _stop_if_asked(self, run: MigrationRun, in_transaction: bool = False) -> None:
        """A surface that can be cancelled (the MCP server) passes a progress callback with `cancelled()`. It is
        asked only where stopping leaves nothing half-done: before a migration, and between the statements (or
        a Python migration's batches) of one that runs in a transaction, which then rolls back. A per-statement
        migration runs to its end (stopping half-way would leave it dirty), and so does autoOnFailure's undo
        (a runner outside the command's numbered migrations)."""
        cancelled = getattr(self.progress, "cancelled", None)
        if cancelled is None or not cancelled() or self.position[1] == 0:
            return
        done, verb = self.position[0] - 1, "applied" if run.direction == "up" else "rolled back"
        raise Cancelled(
            f"Stopped on request before finishing {run.version}_{run.name}: {done} of the {self.position[1]} "
            f"migration(s) of this command were {verb}.",
            state=(
                f"The {done} migration(s) before it are {verb} and recorded; {run.version}_{run.name} is "
                + (
                    "unchanged (its transaction was rolled back)"
                    if in_transaction
                    else "unchanged (it had not started)"
                )
                + " and so are the ones after it. Nothing is dirty."
            ),
            next_step="`db-migrate status` shows where it stands; run the command again to continue.",
        )

    def _python_in_transaction(self, script: Script) -> bool:
        return self.engine.caps.transactional_ddl and not script.no_transaction

    def _emit(self, phase: str, message: str, index: int = 0, total: int = 0, *, at: int = 0) -> None:
        """at: the event of the migration `at` places after this runner's (sent together)."""
        if self.progress:
            self.progress(
                ProgressEvent(
                    phase=phase,
                    message=message,
                    migration_index=self.position[0] + at,
                    migration_total=self.position[1],
                    statement_index=index,
                    statement_total=total,
                )
            )


def outside_statement_failure(conn: Connection, run: MigrationRun, exc: Exception) -> MigrationError:
    """A driver error between statements: the server went away, or writing the history failed."""
    if not connection_alive(conn):
        return connection_lost(conn, run, exc)
    done = sum(1 for s in run.statements if s.status == "done")
    return StatementFailed(
        f"Recording {run.version}_{run.name} in the history table failed: {redact(' '.join(str(exc).split()))}",
        state=f"{done} of {len(run.statements)} statements ran"
        + (
            "; the transaction was rolled back, nothing of it is applied."
            if run.mode == "transaction"
            else " and are committed; the history row may not say so."
        ),
        next_step="Run `db-migrate status` and compare it with the schema before anything else.",
    )


def connection_lost(conn: Connection, run: MigrationRun, exc: Exception) -> ConnectionLost:
    """The server went away (or ended our session) during the run: say what that leaves, per run mode."""
    done = sum(1 for s in run.statements if s.status == "done")
    total = len(run.statements)
    running = next((s for s in run.statements if s.status == "failed"), None)
    where = f" at statement {running.index} of {total}" if running else ""
    step = "Check that the server is up, then run `db-migrate status` before anything else."
    if run.mode == "transaction":
        state = (
            f"{run.version}_{run.name} ran in one transaction that never committed, so the server rolled it "
            "back: the migration is not applied."
        )
        step = "Check that the server is up, then run the command again (`db-migrate status` shows it pending)."
    elif running:
        state = (
            f"DIRTY: {committed_statements(done, f'{run.version}_{run.name}')}; statement {running.index} "
            "was running when the session ended and may or may not have completed. The history row could not "
            "be updated: it still says the run is in progress."
        )
        step = (
            f"Check that the server is up, then `db-migrate status` (it reads the live schema to tell whether "
            f"statement {running.index} completed), then `db-migrate resolve {run.version} --retry`."
        )
    else:
        state = (
            f"{run.version}_{run.name} is probably dirty: {done} of {total} statements were committed before "
            "the connection was lost; the next statement may or may not have completed."
        )
    return ConnectionLost(
        f"The connection to {conn.project.target.display_url} was lost while running {run.version}_{run.name}"
        f"{where}: {redact(' '.join(str(exc).split()))}",
        state=state,
        next_step=step,
    )


def _ran_until(run: MigrationRun, exc: BatchFailed) -> StatementRun:
    """Statements sent together that stopped at statement exc.index: those before it are done; that one."""
    for done in run.statements[: exc.index - 1]:
        done.status = "done"
    return run.statements[exc.index - 1]


def lost_while_sent(
    conn: Connection, run: MigrationRun, statement: StatementRun, exc: BaseException, later: int
) -> ConnectionLost:
    """The session ended while `run` and `later` migrations after it had been sent together with their COMMITs: the
    server may have committed some before it went away, but each transaction holds its history row too."""
    them = f"{run.version}_{run.name}" + (f" and the {later} migration(s) sent after it" if later else "")
    return ConnectionLost(
        f"The connection to {conn.project.target.display_url} was lost while running {run.version}_{run.name} at "
        f"statement {statement.index} of {len(run.statements)}: {redact(' '.join(str(exc).split()))}",
        state=(
            f"The migrations before it are applied and recorded. {them[0].upper()}{them[1:]} each ran in one "
            "transaction with its history row: each is either applied and recorded, or not applied at all. "
            "Nothing is dirty."
        ),
        next_step="Check that the server is up, then `db-migrate status` (it lists which are applied), then run the "
        "command again for the rest.",
    )


def committed_statements(done: int, label: str = "") -> str:
    """What per-statement progress leaves committed, as a clause ("statements 1..0" says nothing)."""
    of = f" of {label}" if label else ""
    return f"statements 1..{done}{of} are committed" if done else f"no statement{of} was committed"


def connection_alive(conn: Connection) -> bool:
    try:
        return conn.engine.is_connected()
    except Exception:  # noqa: BLE001 - no answer: the session is gone
        return False


def _archiver(conn: Connection, run: MigrationRun, **options):
    # Imported here: the archive hook reads SQL with sqlglot, which status and history never load.
    from .archive import Archiver

    return Archiver(conn, run, **options)


class ArchiveFailed(Exception):
    """The archive before a statement could not be made: the statement is not run."""


def _tables_named(sql: str, dialect: str) -> list[str]:
    """The tables a statement locks (a foreign key's parent too), as the server names them."""
    from ..analysis.operations import statement_operations  # sqlglot: loaded only for this explanation

    try:
        operations = statement_operations(sql, dialect)
    except Exception:  # noqa: BLE001 - a statement the parser cannot read names no table here
        return []
    return sorted({t for op in operations for t in (op.table, op.ref_table) if t})


def _nothing() -> None:
    pass


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _backoff(attempt: int) -> None:
    time.sleep(min(0.25 * 2**attempt, 5) * (0.5 + random.random()))  # jitter: retries do not march in step


def _preview(sql: str, limit: int = 120) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _clean(exc: BaseException, conn: Connection) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if conn.engine.is_lock_timeout(exc):
        text = f"lock timeout ({text})"
    return redact(text)
