"""The gate between a plan and a change: approvals, maintenance windows, findings, backups."""

from __future__ import annotations

import hashlib

from ..analysis.model import Finding
from ..config import Target, in_maintenance_window
from ..errors import ApprovalRequired
from ..migrations.model import Migration
from ..migrations.plan import Plan
from ..reports import ErrorReport, MigrationRun, RunReport
from .context import Connection


def plan_id(environment: str, action: str, runs: list[MigrationRun]) -> str:
    """Binds an approval to the exact plan that was shown: any change gives another id."""
    digest = hashlib.sha256(f"{environment}|{action}".encode())
    for run in runs:
        digest.update(f"|{run.version}|{run.direction}|".encode())
        for statement in run.statements:
            digest.update(statement.sql.encode())
        digest.update((run.python_source or "").encode())
    return digest.hexdigest()[:16]


def window_open(target: Target) -> bool | None:
    """Whether the target's maintenance window is open now (None: it has none). Decided here once and put in the
    plan and the status, so a surface that asks a human says a closed window without reading the settings."""
    return in_maintenance_window(target.maintenance_window) if target.maintenance_window else None


def check_window(conn: Connection, outside_window: bool) -> None:
    window = conn.project.target.maintenance_window
    if window and not outside_window and not in_maintenance_window(window):
        raise ApprovalRequired(
            f"Environment '{conn.project.target.name}' only changes inside its maintenance window ({window}).",
            state="Nothing was changed.",
            next_step="Run it inside the window, or (as a human, deliberately) add --outside-window.",
        )


def approval_reasons(conn: Connection, findings: list[Finding], destructive: list[str]) -> list[str]:
    reasons = []
    if conn.project.target.require_approval:
        reasons.append(f"environment '{conn.project.target.name}' requires approval (requireApproval)")
    reasons += [f"{f.severity} ({f.rule}): {f.message}" for f in findings if f.blocks]
    reasons += destructive
    return reasons


def stop_for_approval(conn: Connection, report, request, *, window: bool = True) -> bool:
    """True when the report (its approval_reasons already filled) must go back to a human: a dry run,
    or approval missing for this exact plan. The maintenance window is enforced unless `window` is off."""
    if request.dry_run:
        report.needs_approval = bool(report.approval_reasons)
        report.message = "Dry run: nothing was changed."
        return True
    return _stop_unless_approved(
        conn,
        report,
        request,
        "Approval needed before anything changes: " + "; ".join(report.approval_reasons),
        window=window,
    )


def stop_for_environment_approval(conn: Connection, report, request, message: str) -> bool:
    """The same gate for changes that are not migrations (resolve, baseline): the maintenance window
    (ApprovalRequired unless request.outside_window), then the environment's requireApproval, the only
    reason here; the approval binds to report.plan_id like an apply's does. True: `message` goes back."""
    report.approval_reasons = approval_reasons(conn, [], [])
    return _stop_unless_approved(conn, report, request, message)


def _stop_unless_approved(conn: Connection, report, request, message: str, *, window: bool = True) -> bool:
    report.needs_approval = bool(report.approval_reasons)
    if window:
        check_window(conn, request.outside_window)
    approved = request.approved and request.approved_plan_id in (None, report.plan_id)
    if report.needs_approval and not approved:
        report.outcome, report.message = "needs-approval", message
        return True
    return False


def findings_for(conn: Connection, migrations: list[Migration], direction: str) -> list[Finding]:
    """Data-aware findings from the analysis package, when safetyCheck is on."""
    if not conn.project.settings.validation.safetyCheck or not migrations:
        return []
    from .analyze import findings_for_plan

    return findings_for_plan(
        conn.engine, migrations, direction=direction, lock_timeout_ms=conn.project.settings.ddlLockTimeoutMs
    )


def schema_findings(conn: Connection, plan: Plan, migrations: list[Migration], direction: str = "up") -> list[Finding]:
    """Schema-aware validation, when preCheck is on: `migrations` replayed in order on a snapshot of
    the live schema. Up: each DOWN is also replayed after its UP, plus out-of-order conflicts with newer
    migrations. Down (rollback): the DOWN scripts, newest first, as they will run. Errors are then
    confirmed on a schema-only copy (service/server_check.py, validation.confirmOnServer): only those the
    server raises stay errors."""
    if not conn.project.settings.validation.preCheck or not migrations:
        return []
    from ..analysis.schema import read_schema
    from ..analysis.simulate import conflict_findings, simulate
    from .server_check import confirm_on_server

    snapshot = read_schema(conn.engine, exclude=(conn.history.table, conn.history.log_table))
    findings = simulate(snapshot, migrations, direction)
    confirm_on_server(conn, migrations, findings, direction)
    if direction == "down":
        return findings
    return findings + conflict_findings(plan, conn.project.dialect)


def syntax_findings(conn: Connection, migrations: list[Migration], direction: str) -> list[Finding]:
    """An error finding per statement the server's parser rejects, naming the file and line (preCheck on)."""
    # The server's own parser (pglast is PostgreSQL's; SQLite parses with itself) is never wrong about a syntax
    # error, so a run refuses it before anything changes. sqlglot only approximates MySQL: there the server
    # decides, and `validate` shows what sqlglot thinks.
    if not conn.project.settings.validation.preCheck or not conn.engine.caps.server_parser:
        return []
    from ..migrations.syntax import syntax_problems

    findings = []
    for migration in migrations:
        path = migration.down_path if direction == "down" and migration.down_path else migration.path
        for problem in syntax_problems(migration, conn.project.dialect, (direction,)):
            where = f"{path.name} line {problem.line}" if problem.line else path.name
            findings.append(
                Finding(
                    rule="syntax-error",
                    severity="error",
                    title="The server's parser rejects this statement",
                    message=f"{where}: {problem.message}",
                    migration=migration.version,
                    direction=direction,
                    statement_index=problem.index,
                    statement=problem.statement,
                    recommendation="Fix the statement; `db-migrate validate` checks the files again.",
                )
            )
    return findings


def refuse_errors(report: RunReport) -> bool:
    """Errors found by validation are statements the server would refuse: nothing runs."""
    errors = [f for f in report.findings if f.severity == "error"]
    if not errors:
        return False
    report.outcome = "failed"
    report.message = f"Validation found {len(errors)} error(s); nothing was run."
    report.error = ErrorReport(
        error="validation_failed",
        exit_code=1,
        message="; ".join(_refusal(f) for f in errors),
        state="Nothing was run: the database is unchanged.",
        next_step="Fix the migrations (`db-migrate validate` lists each finding), then run again. "
        "If a finding is wrong, validation.preCheck=false in the settings turns these checks off.",
    )
    return True


def _refusal(finding: Finding) -> str:
    """One error as the refusal names it, with what the server said when it was replayed on a copy."""
    text = f"{finding.migration or ''} statement {finding.statement_index or '?'}: {finding.message}"
    if finding.server_check == "confirmed":
        return f"{text} (confirmed on a schema-only copy; the server said: {finding.server_message})"
    if finding.server_check == "not-confirmed":
        return f"{text} (not confirmed on the server: {finding.server_message})"
    return text
