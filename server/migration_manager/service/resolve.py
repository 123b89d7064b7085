"""Getting out of a dirty state (or accepting an intended checksum change), explicitly."""

from __future__ import annotations

import hashlib

from ..errors import HistoryConflict, MigrationFileError
from ..history import ROLLBACK_STATUSES, HistoryRow, utcnow
from ..migrations.formats import version_key
from ..migrations.plan import make_plan
from ..reports import RunReport
from ..requests import BaselineRequest, ResolveRequest
from .backups import refuse_partly_restored
from .context import Progress, connect, open_project
from .migrate import check_dirty, down_script_for, execute_runs, start_report
from .runner import plan_run
from .safety import stop_for_environment_approval


def resolve(request: ResolveRequest, progress: Progress | None = None) -> RunReport:
    project = open_project(request)
    migrations = project.read_migrations()
    with connect(project, lock=True) as conn:
        refuse_partly_restored(conn)
        rows = conn.history.rows()
        row = rows.get(request.version)
        if row is None:
            raise MigrationFileError(
                f"Version {request.version} has no history row.",
                state="Nothing was changed.",
                next_step="`db-migrate status` lists applied and dirty versions.",
            )
        plan = make_plan(migrations, rows)
        migration = plan.file_for(row.version)
        report = start_report(conn, "resolve", [], plan.current_version, False)
        report.plan_id = _plan_id(project.target.name, request)
        if stop_for_environment_approval(
            conn,
            report,
            request,
            f"Approval needed to {request.action} {row.version}_{row.name} (status {row.status}).",
        ):
            return report
        author = project.author()
        if request.action == "accept-checksum":
            if migration is None:
                raise MigrationFileError(f"No file for {row.version}.", next_step="Restore the file first.")
            conn.history.update(row.version, checksum=migration.checksum)
            conn.history.log(
                row.version,
                row.name,
                "accept-checksum",
                "ok",
                author=author,
                detail=f"{row.checksum} -> {migration.checksum}",
            )
            report.message = f"Recorded the new checksum of {migration.path.name}."
        elif not row.dirty:
            raise HistoryConflict(
                f"{row.version}_{row.name} is not dirty (status {row.status}).",
                state="Nothing was changed.",
                next_step="Nothing to resolve.",
            )
        elif request.action == "mark-applied":
            conn.history.update(row.version, status="applied", error=None, statements_done=row.statements_total)
            conn.history.log(row.version, row.name, "mark-applied", "ok", author=author, detail=f"was {row.status}")
            report.message = f"Marked {row.version}_{row.name} as applied."
        elif request.action == "mark-not-applied":
            conn.history.delete(row.version)
            conn.history.log(row.version, row.name, "mark-not-applied", "ok", author=author, detail=f"was {row.status}")
            report.message = f"Marked {row.version}_{row.name} as not applied (it is pending again)."
        else:
            _retry(conn, plan, row, migration, report, progress)
        report.version_after = make_plan(migrations, conn.history.rows()).current_version
        return report


def _plan_id(environment: str, request: ResolveRequest) -> str:
    return hashlib.sha256(f"{environment}|resolve|{request.version}|{request.action}".encode()).hexdigest()[:16]


def _retry(conn, plan, row, migration, report: RunReport, progress: Progress | None) -> None:
    from .strategy_runs import resume_hint

    if hint := resume_hint(conn, row):  # its steps are the strategy's, not the file's statements
        raise HistoryConflict(
            f"{row.version}_{row.name} stopped in a phase of its {row.strategy} strategy: --retry would run the file's "
            "statements, not the strategy's steps.",
            state="Nothing was changed.",
            next_step=hint[0].upper() + hint[1:] + ".",
        )
    rolling_back = row.status in ROLLBACK_STATUSES
    if migration is None and not rolling_back:
        raise MigrationFileError(f"The file of {row.version} is missing.", next_step="Restore it, then retry.")
    if migration is not None and not rolling_back and migration.checksum != row.checksum:
        raise HistoryConflict(
            f"{migration.path.name} changed since the failed run started.",
            state="Nothing was changed.",
            next_step="Restore the file, or finish by hand and use --mark-applied.",
        )
    start = _first_statement_to_run(conn, plan, row, report)
    if rolling_back:
        script = down_script_for(make_plan([migration] if migration else [], {}), row, conn)
        run = plan_run(conn, row.version, row.name, "down", script)
        run.mode = "per-statement"
        report.migrations.append(run)
        execute_runs(conn, report, progress, lambda runner, r, i: runner.rollback(row, script, r, start_at=start))
    else:
        run = plan_run(conn, row.version, row.name, "up", migration.up)
        run.mode = "per-statement"
        report.migrations.append(run)
        execute_runs(conn, report, progress, lambda runner, r, i: runner.apply(migration, r, start_at=start))


def _first_statement_to_run(conn, plan, row, report: RunReport) -> int:
    """Resume after the last recorded statement, or after the next one when the live schema shows
    that it completed before the process died (re-running it would fail on "already exists")."""
    check = check_dirty(conn, plan, row)
    if check is None or check.verdict != "completed":
        return row.statements_done + 1
    conn.history.update(row.version, statements_done=check.index)
    conn.history.log(
        row.version,
        row.name,
        "recovered",
        "ok",
        author=conn.project.author(),
        statements_done=check.index,
        detail=check.explain(),
    )
    report.message = check.explain() + f" Recorded it as done; resuming at statement {check.index + 1}.\n"
    return check.index + 1


def baseline(request: BaselineRequest) -> RunReport:
    """Adopt an existing database: record migrations as applied without running them (Flyway's baseline)."""
    project = open_project(request)
    migrations = project.read_migrations()
    key = version_key(request.version)
    with connect(project, lock=True) as conn:
        refuse_partly_restored(conn)
        rows = conn.history.rows()
        plan = make_plan(migrations, rows)
        if plan.file_for(request.version) is None:
            raise MigrationFileError(
                f"No migration has version {request.version}.",
                state="Nothing was changed.",
                next_step="`db-migrate status` lists the versions on disk.",
            )
        chosen = [m for m in plan.pending if version_key(m.version) <= key]
        report = start_report(
            conn,
            "baseline",
            [plan_run(conn, m.version, m.name, "up", m.up) for m in chosen],
            plan.current_version,
            False,
        )
        report.version_after = chosen[-1].version if chosen else plan.current_version
        if stop_for_environment_approval(
            conn,
            report,
            request,
            f"Approval needed to record {len(chosen)} migration(s) as applied without running them.",
        ):
            return report
        conn.history.ensure()  # after the gate: a refused baseline creates nothing
        author = project.author()
        for migration, run in zip(chosen, report.migrations):
            conn.history.insert(
                HistoryRow(
                    version=migration.version,
                    name=migration.name,
                    checksum=migration.checksum,
                    applied_at=utcnow(),
                    author=author,
                    strategy="baseline",
                    statements_done=0,
                    statements_total=len(run.statements),
                    down_script=migration.down.source if migration.down else None,
                )
            )
            conn.history.log(
                migration.version,
                migration.name,
                "baseline",
                "ok",
                author=author,
                detail="recorded as applied without running",
            )
            run.status = "applied"
        report.version_after = make_plan(migrations, conn.history.rows()).current_version
        report.message = f"Recorded {len(chosen)} migration(s) as applied without running them (baseline)."
        return report
