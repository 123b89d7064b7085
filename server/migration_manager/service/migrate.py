"""Use cases that change the database: apply, rollback, resolve. All run the safety pipeline:
connect -> lock -> plan (history, checksums, conflicts) -> analyze -> gate -> backup -> run -> record
(apply starts the backup's dump with the plan, beside the analysis, and waits for it after the gate).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import Cancelled, DirtyState, MigrationError, MigrationFileError, RollbackUnavailable
from ..history import ROLLBACK_STATUSES, UNFINISHED_STATUSES, HistoryRow
from ..migrations.formats import version_key
from ..migrations.model import Migration, Script
from ..migrations.plan import Plan, make_plan
from ..reports import ErrorReport, MigrationRun, RunReport
from ..requests import ApplyRequest, RollbackRequest
from .backups import current_version, refuse_partly_restored
from .context import Connection, Progress, check_steps, connect, open_project
from .pre_change_backup import backup_before_change, backup_beside_checks
from .recovery import recover
from .rollback_plan import EMERGENCY_NOTE, Undo, emergency_reasons, plan_rollback, refuse_unavailable, undo_for
from .runner import Runner, committed_statements, outside_statement_failure, plan_run
from .safety import (
    approval_reasons,
    findings_for,
    plan_id,
    refuse_errors,
    schema_findings,
    stop_for_approval,
    syntax_findings,
    window_open,
)
from .sent_together import on_new_tables
from .strategy_runs import (
    plan_strategies,
    plan_undo_of_expanded,
    resumable,
    start_phases,
    stopped_expanding,
    stopped_in_a_phase,
    undo_expanded,
)

if TYPE_CHECKING:
    from .crash_check import StatementCheck


def apply(request: ApplyRequest, progress: Progress | None = None) -> RunReport:
    from ..analysis.operations import read_ahead  # sqlglot, which status and history never load
    from .archive import mark_archived, plan_archives  # reads SQL with sqlglot, which status and history never load

    step = check_steps(
        progress,
        [
            "reading the migration files",
            "reading the history",
            "checking the SQL syntax",
            "replaying the pending migrations on the live schema",
            "running the rules",
        ],
    )
    step()
    project = open_project(request)
    migrations = project.read_migrations()
    step()
    with connect(project, lock=not request.dry_run) as conn:
        plan = _plan(conn, migrations, create_history=not request.dry_run)
        plan.refuse_conflicts(request.allow_out_of_order)
        resumed = resumable(conn, plan)  # stopped in their expand phase: checked when they started
        pending = select_pending(plan, request.to_version)
        selected = [*resumed, *pending]
        runs = [plan_run(conn, m.version, m.name, "up", m.up) for m in selected]
        plan_strategies(conn, selected, runs, request.strategy)
        report = start_report(conn, "apply", runs, plan.current_version, request.dry_run)
        report.version_after = selected[-1].version if selected else plan.current_version
        # Every check reads the statements: read them first, on both CPUs (the backup's dump starts after it).
        read_ahead(
            [sql for m in selected for script in (m.up, m.down) if script for sql in script.statements],
            conn.engine.dialect,
        )
        # The backup's dump runs in its own process while the checks run here. The migration lock is held throughout
        # and nothing changes before pre_change.finish() waits for it: it shows the database as before the change.
        scripts = [m.up for m in selected]
        # A plan that stops for approval whatever the checks find (requireApproval, not approved yet) leaves the dump
        # to the approved run: the CLI's y/N and the MCP approval would otherwise start it twice.
        asks_first = conn.project.target.require_approval and not request.approved
        with backup_beside_checks(
            conn, scripts, start=bool(runs) and not request.dry_run and not asks_first
        ) as pre_change:
            step()
            report.findings = syntax_findings(conn, selected, "up")
            step()
            report.findings += schema_findings(conn, plan, pending)
            step()
            report.findings += findings_for(conn, pending, "up")
            if not runs:
                report.outcome, report.message = "nothing-to-do", "Database is up to date."
                return report
            if refuse_errors(report):
                return report
            plan_archives(conn, runs, scripts)
            mark_archived(report)
            if _stop_for_approval(conn, report, request, []):
                return report
            backup = pre_change.finish(report, progress)
        quick = _quick(conn, selected)
        execute_runs(
            conn,
            report,
            progress,
            lambda runner, run, i: (
                start_phases(runner, selected[i], run, report.backup_id)
                or runner.apply(
                    selected[i],
                    run,
                    backup_id=report.backup_id,
                    next_up=_as_written(selected, runs, i + 1),
                    quick=quick[i],
                )
            ),
            _sent_together(conn, selected, runs, report, quick),
        )
        if report.outcome == "failed" and project.settings.rollback.autoOnFailure and not _cancelled(report):
            recover(conn, report, backup, lambda: _undo_completed(conn, report, selected, progress))
        report.version_after = current_version(conn)
        return report


def _quick(conn: Connection, selected: list[Migration]) -> list[bool]:
    """Per migration: does it only change tables this apply created (sent_together.py), where the server can take
    more than one migration or statement per round trip."""
    if not (conn.engine.caps.pipelined or conn.engine.caps.multi_statements):
        return [False] * len(selected)
    return on_new_tables(selected, conn.engine.dialect, set(conn.engine.tables()))


def _sent_together(
    conn: Connection, selected: list[Migration], runs: list[MigrationRun], report: RunReport, quick: list[bool]
):
    """execute_runs' `together`: from run `index`, the quick migrations the runner can send together, applied so:
    how many; 0 when fewer than two (they run one by one)."""
    if not conn.engine.caps.pipelined:
        return None

    def together(runner: Runner, index: int) -> int:
        span = []
        while index + len(span) < len(runs):
            at = index + len(span)
            if not (quick[at] and runner.sendable(selected[at], runs[at])):
                break
            span.append((selected[at], runs[at]))
        if len(span) < 2:
            return 0
        runner.apply_together(span, report.backup_id)
        return len(span)

    return together


def _as_written(selected: list[Migration], runs: list[MigrationRun], index: int) -> Migration | None:
    """selected[index] when the runner applies it as written, so that its "running" row may commit with the
    previous migration's record; None past the end, or when an online strategy runs its phases (they insert
    their own row)."""
    if index >= len(selected) or (runs[index].strategy is not None and runs[index].strategy.rewrites):
        return None
    return selected[index]


def rollback(request: RollbackRequest, progress: Progress | None = None) -> RunReport:
    from .archive import mark_archived, plan_archives  # reads SQL with sqlglot, which status never loads

    project = open_project(request)
    migrations = project.read_migrations()
    with connect(project, lock=not request.dry_run) as conn:
        plan = _plan(conn, migrations, create_history=False)
        plan.applied += stopped_expanding(conn, plan)  # an online expand phase that stopped: rollback undoes it
        rows = _select_applied(plan, request)
        undos = [undo_for(plan, row, project.dialect) for row in rows]
        runs = [_down_run(conn, undo) for undo in undos]
        report = start_report(conn, "rollback", runs, plan.current_version, request.dry_run)
        leaving = {r.version for r in rows}
        report.version_after = next((r.version for r in reversed(plan.applied) if r.version not in leaving), None)
        if not runs:
            report.outcome, report.message = "nothing-to-do", "Nothing is applied: nothing to roll back."
            return report
        ready = [u.migration for u in undos if u.migration is not None]
        if not request.emergency:  # --emergency: what the server itself refuses is the only check
            report.findings = (
                syntax_findings(conn, ready, "down")
                + schema_findings(conn, plan, ready, "down")
                + findings_for(conn, ready, "down")
            )
        if not request.emergency:  # like the backup, the archive copy is skipped: it reads (and copies) the tables
            plan_archives(conn, runs, [u.migration.down if u.migration is not None else Script() for u in undos])
        report.rollback_plan = plan_rollback(conn, undos, report.findings, emergency=request.emergency)
        plan_undo_of_expanded(conn, report, rows)
        mark_archived(report, emergency=request.emergency)
        if (
            refuse_unavailable(report)
            or refuse_errors(report)
            or _stop_for_approval(conn, report, request, emergency_reasons(report.rollback_plan))
        ):
            return report
        if not request.emergency:  # the plan says "no backup: --emergency"
            backup_before_change(conn, report, [m.down for m in ready], progress)
        note = EMERGENCY_NOTE if request.emergency else None
        execute_runs(
            conn,
            report,
            progress,
            lambda runner, run, i: (
                undo_expanded(runner, rows[i], run)
                or runner.rollback(rows[i], ready[i].down, run, note=note, archive=not request.emergency)
            ),
        )
        report.version_after = current_version(conn)
        return report


def _down_run(conn: Connection, undo: Undo) -> MigrationRun:
    """The DOWN as it will run; a migration that cannot roll back gets an empty run (the plan says why)."""
    script = undo.migration.down if undo.migration is not None else Script()
    run = plan_run(conn, undo.row.version, undo.row.name, "down", script)
    run.script_source = undo.source
    return run


# ---- planning ----------------------------------------------------------------------------
def _plan(conn: Connection, migrations: list[Migration], *, create_history: bool) -> Plan:
    refuse_partly_restored(conn)
    if create_history:
        conn.history.ensure()
    plan = make_plan(migrations, conn.history.rows())
    stuck = [row for row in plan.dirty if not stopped_in_a_phase(conn, row)]  # those the strategies resume
    if stuck:
        raise dirty_error(stuck[0], check_dirty(conn, plan, stuck[0]))
    return plan


def check_dirty(conn: Connection, plan: Plan, row: HistoryRow) -> StatementCheck | None:
    """For a run that died: what the live schema says about its first unrecorded statement."""
    from .crash_check import check_unrecorded_statement  # analysis (sqlglot) only when something is dirty

    try:
        script = (
            down_script_for(plan, row, conn)
            if row.status in ROLLBACK_STATUSES
            else getattr(plan.file_for(row.version), "up", None)
        )
        return check_unrecorded_statement(conn, row, script.statements) if script else None
    except Exception:  # noqa: BLE001 - advisory: a failed check must not hide the dirty state itself
        return None


def in_progress_error(row: HistoryRow, holder: str) -> DirtyState:
    """A `running` row while someone holds the migration lock: the run is going on, not dead."""
    doing = "rolled back" if row.status in ROLLBACK_STATUSES else "applied"
    return DirtyState(
        f"Migration {row.version}_{row.name} is being {doing} right now ({row.statements_done} of "
        f"{row.statements_total} statements recorded); the migration lock is held by {holder}.",
        state=f"{_sentence(committed_statements(row.statements_done))}; statement {row.statements_done + 1}"
        # statements that only add tables, columns or indexes are recorded together (crash_check.unrecorded_after)
        + (" or a later one" if row.statements_done + 1 < row.statements_total else "")
        + " is still running on the server. If the process that started it was killed, the server runs that "
        "statement to its end before it drops the session and the lock.",
        next_step="Wait for it, then run `db-migrate status` again. To stop it now, cancel that session on the "
        "server; status will then show where it stopped.",
    )


def dirty_error(row: HistoryRow, check: StatementCheck | None = None) -> DirtyState:
    doing = "rolling back" if row.status in ROLLBACK_STATUSES else "applying"
    running = row.status in UNFINISHED_STATUSES
    how = (
        "the run stopped without recording its end (its process died or lost its connection)"
        if running
        else f"statement {row.statements_done + 1} failed"
    )
    done, resume = row.statements_done, f"re-runs from statement {row.statements_done + 1}"
    committed = _sentence(committed_statements(done, f"{row.version}_{row.name}"))
    state = f"{committed}; the rest did not run."
    if running:
        state += f" Statement {done + 1} may or may not have completed on the server: check it."
    if check is not None and check.verdict == "not-run":
        state = f"{committed}; the rest did not run. {check.explain()}"
    if check is not None and check.verdict == "completed":
        state = (
            f"Statements 1..{check.index} of {row.version}_{row.name} are committed (the history recorded {done}); "
            f"the rest did not run. {check.explain()}"
        )
        resume = f"records statement {check.index} as done and continues from statement {check.index + 1}"
    return DirtyState(
        f"Migration {row.version}_{row.name} is dirty: {how} while {doing} it "
        f"({done} of {row.statements_total} statements done)." + (f" Error: {row.error}" if row.error else ""),
        state=state,
        next_step=f"`db-migrate resolve {row.version} --retry` {resume}; "
        f"`--mark-applied` or `--mark-not-applied` records what you finished or undid by hand. "
        "`db-migrate status` shows the details.",
    )


def _sentence(clause: str) -> str:
    return clause[0].upper() + clause[1:]


def select_pending(plan: Plan, to_version: str | None) -> list[Migration]:
    """The pending migrations up to `to_version` (all when None); refuses a version unknown or already applied."""
    if to_version is None:
        return plan.pending
    key = version_key(to_version)
    if plan.file_for(to_version) is None:
        raise MigrationFileError(
            f"No migration has version {to_version}.",
            state="Nothing was run.",
            next_step="`db-migrate status` lists the versions.",
        )
    if any(version_key(r.version) == key for r in plan.applied):
        raise MigrationFileError(
            f"{to_version} is already applied.",
            state="Nothing was run.",
            next_step=f"To go back to it, use `db-migrate rollback --to {to_version}`.",
        )
    return [m for m in plan.pending if version_key(m.version) <= key]


def _select_applied(plan: Plan, request: RollbackRequest) -> list[HistoryRow]:
    newest_first = list(reversed(plan.applied))
    if request.all:
        return newest_first
    if request.to_version is not None:
        key = version_key(request.to_version)
        if request.to_version not in ("0",) and not any(version_key(r.version) == key for r in plan.applied):
            raise MigrationFileError(
                f"Version {request.to_version} is not applied.",
                state="Nothing was run.",
                next_step="Pick an applied version from `db-migrate status` (or 0 for all).",
            )
        return [r for r in newest_first if version_key(r.version) > key]
    return newest_first[: request.steps or 1]


def down_script_for(plan: Plan, row: HistoryRow, conn: Connection) -> Script:
    """The DOWN that rolls `row` back (its file's, else the one recorded when applied); raises when there is none."""
    undo = undo_for(plan, row, conn.project.dialect)
    if undo.migration is None:
        raise RollbackUnavailable(
            undo.why + ".",
            state="Nothing was rolled back.",
            next_step="Write a DOWN section for it, or restore from a backup (`db-migrate restore`).",
        )
    return undo.migration.down


# ---- gate and execution ------------------------------------------------------------------
def start_report(
    conn: Connection, action: str, runs: list[MigrationRun], current: str | None, dry_run: bool
) -> RunReport:
    """The report of one command before anything runs: its planned runs, plan id and version (before = after)."""
    target = conn.project.target
    return RunReport(
        action=action,
        environment=target.name,
        database=target.display_url,
        dry_run=dry_run,
        plan_id=plan_id(target.name, action, runs),
        outcome="dry-run" if dry_run else "done",
        lock_wait_ms=conn.lock_wait_ms,
        migrations=runs,
        version_before=current,
        version_after=current,
        maintenance_window=target.maintenance_window,
        window_open=window_open(target),
    )


def _stop_for_approval(conn: Connection, report: RunReport, request, destructive: list[str]) -> bool:
    """True when the report must go back to a human (dry run, or approval missing)."""
    report.approval_reasons = approval_reasons(conn, report.findings, destructive)
    return stop_for_approval(conn, report, request)


def execute_runs(conn: Connection, report: RunReport, progress: Progress | None, step, together=None) -> None:
    """`step(runner, run, index)` for each run of the report in order; the first failure stops, is logged and reported.
    `together(runner, index)`: applies the runs from `index` that go together and says how many (0: none; then
    `step`); when it raises, the failed run is the first it left unapplied (those before it are applied)."""
    settings = conn.project.settings
    # Every statement waits at most ddlLockTimeoutMs for a table lock, so a DDL queued behind a
    # long transaction never stalls the traffic queued behind it (retried with backoff instead).
    conn.engine.set_session_timeouts(settings.ddlLockTimeoutMs, settings.statementTimeoutMs)
    author = conn.project.author()
    total, index = len(report.migrations), 0
    while index < total:
        run = report.migrations[index]
        runner = Runner(conn, author, progress, (index + 1, total))
        started = time.monotonic()
        try:
            try:
                done = together(runner, index) if together else 0
                if done:
                    index += done
                    continue
                step(runner, run, index)
                index += 1
            except MigrationError:
                raise
            except Exception as exc:  # noqa: BLE001 - a driver error outside a statement (history, session)
                raise outside_statement_failure(conn, run, exc) from None
        except MigrationError as exc:
            run = next(r for r in report.migrations[index:] if r.status != "applied")
            run.status, run.error = "planned" if isinstance(exc, Cancelled) else "failed", exc.message
            run.duration_ms = int((time.monotonic() - started) * 1000)  # lock-wait retries included
            _log_failure(conn, run, report.action, author, exc)
            report.outcome = "failed"
            report.message = exc.message
            report.error = ErrorReport.of(exc)
            return
    done = [r for r in report.migrations if r.status != "planned"]
    verb = {"up": "Applied", "down": "Rolled back"}[done[-1].direction] if done else "Ran"
    report.message += f"{verb} {len(done)} migration(s)."


def _cancelled(report: RunReport) -> bool:
    """Stopped on request: what completed stays (autoOnFailure is for failures, not for a cancel)."""
    return report.error is not None and report.error.error == Cancelled.kind


def _log_failure(conn: Connection, run: MigrationRun, action: str, author: str, exc: MigrationError) -> None:
    try:
        conn.history.log(
            run.version,
            run.name,
            action,
            "failed",
            duration_ms=run.duration_ms,
            author=author,
            detail=exc.message[:2000],
        )
    except Exception:  # noqa: BLE001 - a lost connection must not hide the error that caused it
        exc.state += " (The failure event could not be written to the log: the connection was lost.)"


def _undo_completed(conn: Connection, report: RunReport, selected: list[Migration], progress: Progress | None) -> bool:
    """rollback.autoOnFailure: put back what this command already applied, newest first, via DOWN.

    True when everything was undone (False: the caller falls back to the pre-apply backup)."""
    completed = [(m, r) for m, r in zip(selected, report.migrations) if r.status == "applied"]
    if not completed:
        report.message += "\nautoOnFailure: nothing this command applied needed undoing."
        return True
    try:
        rows = conn.history.rows()
    except Exception:  # noqa: BLE001 - the server went away: say so instead of crashing
        report.message += "\nautoOnFailure: the database is unreachable; nothing could be undone. Run status."
        return False
    undone = []
    for migration, run in reversed(completed):
        if migration.down is None:
            report.message += f"\nautoOnFailure: {migration.label} has no DOWN; it stays applied."
            break
        down_run = plan_run(conn, migration.version, migration.name, "down", migration.down)
        try:
            Runner(conn, conn.project.author(), progress, (0, 0)).rollback(
                rows[migration.version], migration.down, down_run, archive=False
            )
        except MigrationError as exc:
            report.message += f"\nautoOnFailure: rolling back {migration.label} failed too: {exc.message}"
            break
        run.status = "rolled-back"
        undone.append(migration.label)
    if undone:
        report.message += f"\nautoOnFailure: rolled back {', '.join(undone)} with their DOWN scripts."
    return len(undone) == len(completed)
