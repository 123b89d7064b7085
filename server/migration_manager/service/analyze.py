"""The analyze use case, and the findings the apply / rollback / validate pipelines gate on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.model import Finding
from ..errors import MigrationFileError
from ..migrations.formats import version_key
from ..migrations.model import Migration, Script
from ..migrations.plan import make_plan
from ..reports import AnalyzedMigration, AnalyzedStatement, AnalyzeReport
from ..requests import AnalyzeRequest
from .context import connect, open_project
from .runner import mode_for, plan_run
from .safety import approval_reasons, schema_findings

if TYPE_CHECKING:
    from ..analysis.findings import ScriptToCheck
    from ..analysis.impact import StatementImpact

# The analysis (sqlglot) is imported where it runs, not here: every command imports this package,
# and status, history or backup create should not pay for loading the SQL parser.


def findings_for_plan(
    engine, migrations: list[Migration], direction: str = "up", *, lock_timeout_ms: int | None = None, rules=None
) -> list[Finding]:
    """Data-aware findings for these migrations run in this order in this direction (all rules, or `rules`)."""
    from ..analysis.findings import find

    scripts = [_script_to_check(engine, m, direction) for m in migrations]
    return find(engine, [s for s in scripts if s is not None], lock_timeout_ms=lock_timeout_ms, rules=rules)


def analyze(request: AnalyzeRequest) -> AnalyzeReport:
    project = open_project(request)
    migrations = project.read_migrations()
    with connect(project, lock=False) as conn:
        plan = make_plan(migrations, conn.history.rows())
        selected = _up_to(plan.pending, request.version, project.target.name)
        # The same verdicts as validate and apply: the schema simulation (errors confirmed on the server), then the
        # data-aware rules.
        findings = schema_findings(conn, plan, selected) + (
            findings_for_plan(conn.engine, selected, "up", lock_timeout_ms=project.settings.ddlLockTimeoutMs)
            if project.settings.validation.safetyCheck
            else []
        )
        shown = selected[-1:] if request.version else selected
        analyzed = [_analyzed(conn, m, findings) for m in shown]
        strategies(conn, shown, analyzed, request.strategy)
        reasons = approval_reasons(conn, [f for m in analyzed for f in m.findings], [])
        server = conn.engine.server_version()
        impact = _impact(conn, selected, {m.version for m in shown})
    return AnalyzeReport(
        environment=project.target.name,
        database=project.target.display_url,
        server_version=server,
        dialect=project.dialect,
        migrations=analyzed,
        impact=impact,
        needs_approval=bool(reasons),
        approval_reasons=reasons,
        summary=_summary(analyzed),
        next_action=_next_action(analyzed, reasons),
    )


def strategies(conn, shown: list[Migration], analyzed: list[AnalyzedMigration], requested: str | None) -> None:
    """Each migration's strategy per statement and why, or why its strategy refuses it (apply would stop there)."""
    from ..strategies import Chooser, StrategyRefused

    chooser = Chooser(conn.engine, conn.project.settings.strategy, requested, conn.project.settings.online)
    for migration, report in zip(shown, analyzed):
        try:
            report.strategy = chooser.plan(migration)
        except StrategyRefused as exc:
            report.strategy_refused = f"{exc.message} {exc.next_step}"


def _impact(conn, selected: list[Migration], shown: set[str]) -> list[StatementImpact]:
    """The Performance Impact Report (validation.performanceAnalysis), for the migrations shown."""
    if not conn.project.settings.validation.performanceAnalysis:
        return []
    from ..analysis.impact.plan import impact_for_plan

    history = (conn.history.table, conn.history.log_table)
    found = impact_for_plan(conn.engine, selected, "up", window=conn.project.target.maintenance_window, exclude=history)
    return [item for item in found if item.migration in shown]


def _up_to(pending: list[Migration], version: str | None, where: str) -> list[Migration]:
    if version is None:
        return pending
    if not any(version_key(m.version) == version_key(version) for m in pending):
        raise MigrationFileError(
            f"Version {version} is not pending on {where}.",
            state="Nothing was analyzed.",
            next_step="`db-migrate status` lists the pending versions.",
        )
    return [m for m in pending if version_key(m.version) <= version_key(version)]


def _script_to_check(engine, migration: Migration, direction: str) -> ScriptToCheck | None:
    from ..analysis.findings import ScriptToCheck

    script: Script | None = migration.up if direction == "up" else migration.down
    if script is None or not script.statements:
        return None  # Python migrations are judged when they run; nothing to read here
    transactional = mode_for(engine, script)[0] == "transaction"  # decided as the run decides it
    return ScriptToCheck(migration.version, direction, script.statements, transactional)


def _analyzed(conn, migration: Migration, findings: list[Finding]) -> AnalyzedMigration:
    from ..analysis.operations import script_operations

    run = plan_run(conn, migration.version, migration.name, "up", migration.up)
    operations = script_operations(migration.up.statements, conn.project.dialect)
    statements = [
        AnalyzedStatement(
            index=s.index,
            sql=s.sql,
            outside_transaction=s.outside_transaction,
            operations=[o.kind for o in operations if o.statement_index == s.index],
        )
        for s in run.statements
    ]
    return AnalyzedMigration(
        version=migration.version,
        name=migration.name,
        mode=run.mode,
        statements=statements,
        findings=[f for f in findings if f.migration == migration.version],
    )


def _summary(migrations: list[AnalyzedMigration]) -> dict[str, int]:
    summary = {"info": 0, "warning": 0, "danger": 0, "error": 0}
    for finding in (f for m in migrations for f in m.findings):
        summary[finding.severity] += 1
    return summary


def _next_action(migrations: list[AnalyzedMigration], reasons: list[str]) -> str:
    if not migrations:
        return "Nothing is pending. Create the next migration with db-migrate create NAME"
    if any(f.blocks for m in migrations for f in m.findings):
        return (
            "Fix the dangerous findings (each has a recommendation and often a safe rewrite), or apply with a "
            "human's approval: db-migrate apply --dry-run, then db-migrate apply"
        )
    if reasons:
        return "db-migrate apply --dry-run, then db-migrate apply (a human approves it)"
    return "db-migrate apply --dry-run, then db-migrate apply"
