"""The strategies in the apply / rollback pipeline, and the `complete` use case.

apply plans each migration under its strategy before the gate (so the dry run and the approval show it), refuses
what the strategy cannot run safely before anything runs, and hands a migration the strategy rewrites to
strategies/phases.py instead of the runner. A migration stopped in a phase (failure, kill -9) is not dirty in the
usual sense: the next apply (expand) or complete (contract) resumes it where its history row says.
"""

from __future__ import annotations

from ..errors import MigrationError
from ..history import EXPANDED, HistoryRow
from ..migrations.model import Migration
from ..migrations.plan import Plan
from ..reports import ExpandedMigration, MigrationRun, RunReport, StatementRun
from ..requests import CompleteRequest
from ..strategies import Chooser
from ..strategies.model import StrategyPlan
from ..strategies.phases import COMPLETE, EXPAND, PhaseRunner, complete_steps, expand_steps
from .context import Connection, Progress, connect, open_project
from .runner import Runner

STOPPED = ("running", "failed")


# ---- apply ---------------------------------------------------------------------------------------------------
def plan_strategies(conn: Connection, selected: list[Migration], runs: list[MigrationRun], requested: str | None):
    """Give each run its strategy plan (a resumed migration keeps the plan it started with); raises
    StrategyRefused before anything runs."""
    chooser = Chooser(conn.engine, conn.project.settings.strategy, requested, conn.project.settings.online)
    for migration, run in zip(selected, runs):
        plan = recorded_plan(conn, migration.version) or chooser.plan(migration)
        run.strategy = plan
        if plan.rewrites:
            run.mode = "per-statement"
            run.mode_reason = (
                f"{plan.strategy} strategy ({plan.chosen_by}): each step on its own, progress recorded after each"
                + (", then `db-migrate complete`" if plan.has_contract else "")
            )
            run.statements = [
                StatementRun(index=i, sql=step.describe(), outside_transaction=True)
                for i, step in enumerate(expand_steps(plan), start=1)
            ]


def start_phases(runner: Runner, migration: Migration, run: MigrationRun, backup_id: str | None) -> bool:
    """Run the expand phase of a migration its strategy rewrites; False: the runner applies it as written."""
    if run.strategy is None or not run.strategy.rewrites:
        return False
    phases = PhaseRunner(runner.conn, runner.progress, runner.position)
    phases.start(migration, run, run.strategy, runner.author, backup_id=backup_id)
    return True


def stopped_in_a_phase(conn: Connection, row: HistoryRow) -> str | None:
    """The phase (expand / complete) a dirty row's strategy run stopped in, or None (an ordinary dirty row)."""
    if row.status not in STOPPED:
        return None
    phase = conn.history.strategy_state(row.version)["phase"]
    return phase if phase in (EXPAND, COMPLETE) else None


def resume_hint(conn: Connection, row: HistoryRow) -> str | None:
    """status's next step for a row stopped in a strategy's phase (not `resolve`: the strategy resumes it)."""
    phase = stopped_in_a_phase(conn, row)
    if phase == EXPAND:
        return (
            f"db-migrate apply resumes {row.version} where its expand phase stopped (step {row.statements_done + 1}); "
            "db-migrate rollback undoes what it did"
        )
    if phase == COMPLETE:
        return f"db-migrate complete {row.version} resumes its contract phase (step {row.statements_done + 1})"
    return None


def resumable(conn: Connection, plan: Plan) -> list[Migration]:
    """The migrations whose expand phase stopped: apply resumes them first."""
    found = []
    for row in plan.dirty:
        if stopped_in_a_phase(conn, row) == EXPAND and (migration := plan.file_for(row.version)) is not None:
            found.append(migration)
    return found


def stopped_expanding(conn: Connection, plan: Plan) -> list[HistoryRow]:
    """The rows whose expand phase stopped (failed or killed): rollback undoes them like expanded ones."""
    return [row for row in plan.dirty if stopped_in_a_phase(conn, row) == EXPAND]


def recorded_plan(conn: Connection, version: str) -> StrategyPlan | None:
    phases = conn.history.strategy_state(version)["phases"]  # all None without a history table
    return StrategyPlan.model_validate_json(phases) if phases else None


# ---- rollback ------------------------------------------------------------------------------------------------
def undo_expanded(runner: Runner, row: HistoryRow, run: MigrationRun) -> bool:
    """Rollback of a migration that is only expanded: its undo steps (instant), not its DOWN. False otherwise."""
    if row.status != EXPANDED and stopped_in_a_phase(runner.conn, row) != EXPAND:
        return False
    plan = recorded_plan(runner.conn, row.version)
    if plan is None:
        return False
    run.duration_ms = PhaseRunner(runner.conn, runner.progress, runner.position).undo(row, plan, runner.author)
    run.status = "rolled-back"
    return True


# ---- status ---------------------------------------------------------------------------------------------------
def waiting_for_complete(conn: Connection, applied: list[HistoryRow]) -> list[ExpandedMigration]:
    """The expanded migrations, oldest first, with what the application must do before `complete`."""
    found = []
    for row in applied:
        if row.status != EXPANDED:
            continue
        plan = recorded_plan(conn, row.version)
        found.append(
            ExpandedMigration(
                version=row.version,
                name=row.name,
                strategy=row.strategy,
                app_must=plan.app_must if plan else [],
                complete=[s.describe() for s in complete_steps(plan)] if plan else [],
                command=f"After the application does what app_must says: db-migrate complete {row.version}",
            )
        )
    return found


def plan_undo_of_expanded(conn: Connection, report: RunReport, rows: list[HistoryRow]) -> None:
    """In a rollback plan, a migration that is only expanded rolls back by its undo steps, not by its DOWN."""
    for row, run in zip(rows, report.migrations):
        if row.status != EXPANDED and stopped_in_a_phase(conn, row) != EXPAND:
            continue
        plan = recorded_plan(conn, row.version)
        if plan is None:
            continue
        undo = plan.phases()["rollback while expanded"]
        run.statements = [StatementRun(index=i, sql=sql, outside_transaction=True) for i, sql in enumerate(undo, 1)]
        run.mode, run.mode_reason = "per-statement", f"{plan.strategy}: only expanded, its expand phase is undone"
        for step in report.rollback_plan.steps if report.rollback_plan else []:
            if step.version == row.version:
                step.can_roll_back, step.destroys = True, []
                step.why = "only expanded: rollback drops what the expand phase added (instant), not its DOWN"


# ---- complete ------------------------------------------------------------------------------------------------
def complete(request: CompleteRequest, progress: Progress | None = None) -> RunReport:
    """The contract phase of expanded migrations (oldest first), under the same lock, gate and history as apply."""
    from .migrate import execute_runs, start_report
    from .safety import approval_reasons, stop_for_approval

    project = open_project(request)
    with connect(project, lock=not request.dry_run) as conn:
        rows = _expanded(conn, request.version)
        runs = [_complete_run(conn, row) for row in rows]
        current = max((r.version for r in conn.history.rows().values()), default=None) if rows else None
        report = start_report(conn, "complete", runs, current, request.dry_run)
        if not runs:
            report.outcome, report.message = "nothing-to-do", "No migration is waiting for complete."
            return report
        report.approval_reasons = approval_reasons(conn, [], [])
        if stop_for_approval(conn, report, request):
            return report
        execute_runs(conn, report, progress, lambda runner, run, i: _complete_one(runner, rows[i], run))
        if report.outcome == "done":
            report.message = f"Completed {len(runs)} migration(s)."
        return report


def _expanded(conn: Connection, version: str | None) -> list[HistoryRow]:
    rows = sorted(conn.history.rows().values(), key=lambda r: r.applied_at)
    waiting = [r for r in rows if r.status == EXPANDED or stopped_in_a_phase(conn, r) == COMPLETE]
    if version is None:
        return waiting
    chosen = [r for r in waiting if r.version == version]
    if not chosen:
        raise MigrationError(
            f"Migration {version} is not waiting for complete.",
            state="Nothing was run.",
            next_step="`db-migrate status` lists the migrations that are expanded, waiting for complete.",
        )
    return chosen


def _complete_run(conn: Connection, row: HistoryRow) -> MigrationRun:
    plan = recorded_plan(conn, row.version) or StrategyPlan(strategy=row.strategy or "online", chosen_by="history")
    steps = complete_steps(plan)
    return MigrationRun(
        version=row.version,
        name=row.name,
        direction="up",
        mode="per-statement",
        mode_reason=f"{plan.strategy} strategy: the contract phase, each step on its own",
        statements=[StatementRun(index=i, sql=s.describe(), outside_transaction=True) for i, s in enumerate(steps, 1)],
        strategy=plan,
    )


def _complete_one(runner: Runner, row: HistoryRow, run: MigrationRun) -> None:
    assert run.strategy is not None  # _complete_run always sets it
    run.duration_ms = PhaseRunner(runner.conn, runner.progress, runner.position).complete(
        row, run.strategy, runner.author
    )
    run.status = "applied"
