"""Running a strategy plan's phases on the database, recorded in history (pgroll's Start / Complete / Rollback).

* start (apply): the expand steps in order, each statement on its own (CONCURRENTLY and DDL on MariaDB cannot share
  a transaction), progress recorded after each and every backfill batch committed with its checkpoint. The row
  ends `expanded` (a contract phase waits for `complete`) or `applied`.
* complete: the contract steps, then `applied`.
* undo: rollback of a migration that is only expanded (or stopped while expanding): the undo steps of the
  statements that started, newest first; the history row goes.
A run that stops (failure, kill -9) leaves status running/failed with phase and position: the next apply or
complete resumes there, a backfill from its last checkpoint.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .. import dialects
from ..config import interpolate
from ..dialects import open_engine
from ..errors import MigrationError, StatementFailed
from ..history import APPLIED, EXPANDED, HistoryRow, utcnow
from ..migrations.model import Migration
from ..reports import MigrationRun
from ..service.context import Connection, Progress, ProgressEvent
from .batches import (
    BatchPolicy,
    BatchProgress,
    Checkpoint,
    ThrottleTimeout,
    range_step,
    run_in_batches,
    signals_for,
)
from .model import Backfill, Step, StrategyPlan

EXPAND, COMPLETE = "expand", "complete"
QUOTES = '"`'  # around the quoted names of a Backfill, left out of what people read


class PhaseRunner:
    def __init__(self, conn: Connection, progress: Progress | None, position: tuple[int, int] = (0, 0)) -> None:
        self.conn = conn
        self.engine = conn.engine
        self.history = conn.history
        self.progress = progress
        self.position = position
        self.settings = conn.project.settings

    # ---- the three phases -----------------------------------------------------------------------------------
    def start(self, migration: Migration, run: MigrationRun, plan: StrategyPlan, author: str, **row_fields) -> None:
        """Run the expand phase of a fresh migration, or resume one whose row says where it stopped."""
        self.history.ensure_strategy_columns()
        started = time.monotonic()
        steps = expand_steps(plan)
        state = self.history.strategy_state(migration.version)
        resuming = self.history.rows().get(migration.version)
        if resuming is not None and state["phase"] is None:  # the runner's previous record inserted it ahead
            self.history.delete(migration.version)
            resuming = None
        if resuming is None:
            row = HistoryRow(
                version=migration.version,
                name=migration.name,
                checksum=migration.checksum,
                applied_at=utcnow(),
                author=migration.author or author,
                strategy=plan.strategy,
                status="running",
                statements_total=len(steps),
                down_script=migration.down.source if migration.down else None,
                **row_fields,
            )
            with self.engine.transaction():  # never a row without its phase: that would read as an ordinary dirty one
                self.history.insert(row)
                self.history.update(migration.version, phase=EXPAND, phases=plan.stored_json())
            state = {"checkpoint": None}
        done = resuming.statements_done if resuming else 0
        self._run_steps(migration.version, migration.label, steps, done, state["checkpoint"], EXPAND)
        final = EXPANDED if plan.has_contract else APPLIED
        self.history.update(
            migration.version,
            status=final,
            phase=final,
            checkpoint=None,
            statements_done=len(steps),
            duration_ms=elapsed_ms(started) + (resuming.duration_ms if resuming else 0),
            error=None,
        )
        detail = "expanded: waiting for `db-migrate complete`" if final == EXPANDED else "online: complete"
        self.history.log(
            migration.version,
            migration.name,
            "apply",
            "ok",
            duration_ms=elapsed_ms(started),
            author=author,
            statements_done=len(steps),
            detail=detail,
        )
        run.status, run.duration_ms = "applied", elapsed_ms(started)

    def complete(self, row: HistoryRow, plan: StrategyPlan, author: str) -> int:
        """The contract phase of an expanded migration (or the rest of one that stopped); returns its ms."""
        started = time.monotonic()
        steps = complete_steps(plan)
        state = self.history.strategy_state(row.version)
        resuming = state["phase"] == COMPLETE
        if not resuming:
            self.history.update(row.version, status="running", phase=COMPLETE, statements_done=0, checkpoint=None)
        done = row.statements_done if resuming else 0
        self._run_steps(
            row.version, f"{row.version}_{row.name}", steps, done, state["checkpoint"] if resuming else None, COMPLETE
        )
        self.history.update(
            row.version,
            status=APPLIED,
            phase=APPLIED,
            checkpoint=None,
            statements_done=len(steps),
            statements_total=len(steps),
            error=None,
        )
        self.history.log(
            row.version,
            row.name,
            "complete",
            "ok",
            duration_ms=elapsed_ms(started),
            author=author,
            statements_done=len(steps),
        )
        return elapsed_ms(started)

    def undo(self, row: HistoryRow, plan: StrategyPlan, author: str) -> int:
        """Rollback while expanded: the undo steps of every statement whose expand phase started, newest first."""
        started = time.monotonic()
        state = self.history.strategy_state(row.version)
        reached = row.statements_done + (1 if row.status != EXPANDED else 0)  # the step that stopped may have run
        steps, position = [], 0
        for statement in plan.statements:
            if position < reached:
                steps = statement.undo + steps
            position += len(statement.expand)
        for index, step in enumerate(steps, start=1):
            self._emit(f"undo {index}/{len(steps)}: {step.describe()}", index, len(steps))
            if step.shadow is not None:
                self._shadow(row.version, step.shadow, "undo", Checkpoint())
            else:
                self._execute(step.sql or "", retry=True)
        self.history.delete(row.version)
        self.history.log(
            row.version,
            row.name,
            "rollback",
            "ok",
            duration_ms=elapsed_ms(started),
            author=author,
            statements_done=len(steps),
            detail=f"undid the expand phase (was {state['phase']})",
        )
        return elapsed_ms(started)

    # ---- steps ----------------------------------------------------------------------------------------------
    def _run_steps(
        self, version: str, label: str, steps: list[Step], done: int, checkpoint: str | None, phase: str
    ) -> None:
        for index in range(done, len(steps)):
            step = steps[index]
            self._emit(f"{label}: {step.describe()}", index + 1, len(steps))
            try:
                if step.backfill is not None:
                    self._backfill(version, step.backfill, Checkpoint.from_text(checkpoint))
                    checkpoint = None
                elif step.shadow is not None:
                    self._shadow(version, step.shadow, phase, Checkpoint.from_text(checkpoint))
                    checkpoint = None
                else:
                    self._execute(step.sql or "", retry=True)
            except MigrationError as exc:
                self._failed(version, index, exc.message)
                raise
            except Exception as exc:  # noqa: BLE001 - a server error: recorded with the step, then raised as ours
                failure = StatementFailed(
                    f"Step {index + 1} of {len(steps)} of {label} failed: {' '.join(str(exc).split())[:500]}",
                    state=f"Steps 1-{index} are done and recorded; nothing of step {index + 1} stayed.",
                    next_step="Fix the cause and run the same command again: it resumes at this step "
                    "(or `db-migrate rollback` undoes what the expand phase did).",
                )
                self._failed(version, index, failure.message)
                raise failure from None
            self.history.update(version, statements_done=index + 1, checkpoint=None)

    def _failed(self, version: str, index: int, message: str) -> None:
        try:
            self.history.update(version, status="failed", statements_done=index, error=message[:2000])
        except Exception:  # noqa: BLE001 - the session is gone: the row stays `running` at the last recorded step
            pass

    def _execute(self, sql: str, *, retry: bool) -> None:
        """One DDL statement on its own. One that queues for a strong table lock waits at most online.lockTimeoutMs
        (every write that arrives meanwhile queues behind it: the lock-queue stall pgroll's 500 ms bounds), retried
        online.lockRetries times with backoff and jitter; one whose lock lets writes go on (CONCURRENTLY, VALIDATE)
        waits as long as ddlLockTimeoutMs allows."""
        online = self.settings.online
        weak = dialects.dialect_part(self.engine.dialect, "online").weak_lock(sql)
        retries = (self.settings.ddlLockRetries if weak else online.lockRetries) if retry else 0
        if not weak:
            self.engine.set_session_timeouts(online.lockTimeoutMs, None)
        try:
            for attempt in range(retries + 1):
                try:
                    self.engine.execute(sql)
                    return
                except Exception as exc:
                    if attempt == retries or not self.engine.is_lock_timeout(exc):
                        raise
                    time.sleep(min(0.2 * 2**attempt, 5.0) * random.uniform(0.5, 1.5))
        finally:
            if not weak:
                self.engine.set_session_timeouts(self.settings.ddlLockTimeoutMs or 0, None)

    def _backfill(self, version: str, fill: Backfill, start: Checkpoint) -> Checkpoint:
        if fill.unless_valid and start.after is None and self._validates(fill.unless_valid):
            return Checkpoint(done=True)  # the CHECK holds for every row: nothing to fill, one scan saved

        def update(where: str, params: list) -> int:
            return self.engine.execute(
                f"UPDATE {fill.table} SET {fill.column} = {fill.value} WHERE {where} AND {fill.column} IS NULL", params
            )

        def show(p: BatchProgress) -> None:
            held = f" (held back: {p.throttled})" if p.throttled else ""
            self._emit(
                f"backfill {fill.table_name}.{fill.column.strip(QUOTES)}: {p.rows:,} of ~{p.total:,} rows{held}",
                p.rows,
                p.total,
                phase="batch",
            )

        with self._replicas() as replicas:
            return run_in_batches(
                self.engine,
                range_step(self.engine, fill.table, fill.key, update),
                table=fill.table_name,
                start=start,
                total=self._rows(fill.table_name),
                signals=signals_for(self.engine, replicas),
                record=self._checkpoint_recorder(version),
                policy=self.policy(),
                progress=show,
            )

    def policy(self) -> BatchPolicy:
        online = self.settings.online
        return BatchPolicy(
            target_s=online.batchTargetMs / 1000,
            max_replica_lag_s=online.maxReplicaLagMs / 1000,
            max_threads_running=online.maxThreadsRunning,
            max_wait_s=online.maxWaitSeconds,
        )

    @contextmanager
    def _replicas(self) -> Iterator[list]:
        """Sessions on the environment's configured replicas (their lag is a throttle signal), closed after."""
        environment = self.settings.environments.get(self.conn.project.target.name)
        engines: list = []
        try:
            for url in environment.replicas if environment else []:
                try:
                    engines.append(open_engine(interpolate(url)))
                except MigrationError as exc:  # unreachable: its lag cannot be read, so nothing runs (fail closed)
                    raise ThrottleTimeout(
                        f"A configured replica cannot be reached ({exc.message}).",
                        state="Nothing of this backfill ran.",
                        next_step="Fix the replica's URL in the environment's `replicas`, or remove it.",
                    ) from None
            yield engines
        finally:
            for engine in engines:
                engine.close()

    def _shadow(self, version: str, statement: str, phase: str, start: Checkpoint) -> None:
        """strategies/shadow.py runs the ALTER on a copy: start it (expand), drop the old table (complete), or swap
        back / drop the copy (undo). Its copy checkpoints in our history row like a backfill."""
        from . import shadow

        if phase == EXPAND:
            shadow.start(
                self.engine,
                statement,
                policy=self.policy(),
                checkpoint=start,
                record=self._checkpoint_recorder(version),
                progress=lambda what, p: self._emit(
                    f"{what}: {p.rows:,} of ~{p.total:,} rows", p.rows, p.total, "batch"
                ),
            )
            return
        table = dialects.dialect_part(self.engine.dialect, "shadow").stored_name(
            self.engine, shadow.parse_alter(statement)[0]
        )
        (shadow.complete if phase == COMPLETE else shadow.rollback)(self.engine, table)

    def _checkpoint_recorder(self, version: str) -> Callable[[Checkpoint], None]:
        table, param = self.history.table, self.engine.param

        def record(at: Checkpoint) -> None:  # in the batch's transaction: the position never runs ahead or behind
            self.engine.execute(
                f"UPDATE {table} SET checkpoint = {param} WHERE version = {param}", [at.as_text(), version]
            )

        return record

    def _validates(self, sql: str) -> bool:
        """True when `sql` (a VALIDATE CONSTRAINT) passes; a row it refuses means the backfill has work to do."""
        try:
            self._execute(sql, retry=True)
        except Exception as exc:  # a violating row (or anything else): the backfill runs, then VALIDATE says
            if self.engine.is_lock_timeout(exc):
                raise
            return False
        return True

    def _rows(self, table: str) -> int:
        try:
            return self.engine.table_stats(table).rows
        except Exception:  # noqa: BLE001 - an estimate for the progress bar only
            return 0

    def _emit(self, message: str, index: int, total: int, phase: str = "statement") -> None:
        if self.progress:
            self.progress(
                ProgressEvent(
                    phase=phase,
                    message=message,
                    migration_index=self.position[0],
                    migration_total=self.position[1],
                    statement_index=index,
                    statement_total=total,
                )
            )


def expand_steps(plan: StrategyPlan) -> list[Step]:
    return [step for statement in plan.statements for step in statement.expand]


def complete_steps(plan: StrategyPlan) -> list[Step]:
    return [step for statement in plan.statements for step in statement.complete]


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
