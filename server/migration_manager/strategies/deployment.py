"""`apply` with a strategy that drives the whole deployment around the migrations: offline (stop the application,
back up, apply, validate, start it again: strategies/offline.py) and blue-green (migrate and test a replicated
green copy to switch to: strategies/blue_green.py). Every other strategy is the apply itself.

The strategy is `apply --strategy NAME`, else a pending migration's `-- strategy: blue-green` header, else the
`strategy` setting. An offline setting drives the stop / start commands only where they are configured (without
them it is the plain apply inside the maintenance window, as before); `--strategy offline` requires them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ..errors import MigrationError
from ..migrations.plan import make_plan
from ..reports import BlueGreenReport, RunReport
from ..service.context import Progress, connect, open_project
from ..service.migrate import ApplyRequest, apply
from ..service.strategy_runs import CompleteRequest, complete


def deployment(request: ApplyRequest) -> str | None:
    """ "offline" or "blue-green" when that strategy drives this apply, else None."""
    project = open_project(request)
    if request.strategy:
        name = _name(request.strategy)
        return name if name in ("offline", "blue-green") else None
    if "blue-green" in _pending_headers(project):
        return "blue-green"
    name = _name(project.settings.strategy)
    if name == "offline":
        environment = project.settings.environments.get(project.target.name)
        commands = (environment.offline if environment else None) or project.settings.offline
        return name if commands.stop and commands.start else None
    return name if name == "blue-green" else None


def apply_with_strategy(request: ApplyRequest, progress: Progress | None = None) -> BaseModel:
    """The use case behind `db-migrate apply` and the MCP apply tool."""
    which = deployment(request)
    if which == "offline":
        from .offline import offline

        return offline(request, progress)
    if which == "blue-green":
        from .blue_green import prepare

        return prepare(request, progress)
    return apply(request, progress)


def apply_as_run(request: ApplyRequest, progress: Progress | None = None) -> RunReport:
    """apply_with_strategy as a RunReport (service.apply, the MCP apply and dry_run tools): an offline or blue-green
    deployment answers with the RunReport of the apply it ran or previewed (blue-green: green's database), carrying
    the deployment's outcome, message and error (the message says the downtime, or that green is ready to switch
    to; a dry run says what runs where)."""
    report = apply_with_strategy(request, progress)
    if isinstance(report, RunReport):
        return report
    run = report.apply
    if run is None:  # refused before any apply ran
        raise MigrationError(report.message, state="Nothing was run.")
    update = {"outcome": report.outcome, "message": report.message, "error": report.error or run.error}
    update["environment"] = report.environment
    if isinstance(report, BlueGreenReport) and report.green:
        update["database"] = report.green  # the statements are green's (its dry run reads blue, which green copies)
    return run.model_copy(update=update)


def complete_with_strategy(request: CompleteRequest, progress: Progress | None = None) -> BaseModel:
    """`db-migrate complete`: ends a blue-green deployment under way on the environment (stops replication,
    drops the side that does not serve), else the contract phase of expanded migrations."""
    from ..config import BlueGreenState

    project = open_project(request)
    state = BlueGreenState.load(project.dir, project.target.name)
    if state is None or state.phase == "completed":
        return complete(request, progress)
    from .blue_green import SwitchRequest
    from .blue_green import complete as complete_deployment

    fields = request.model_dump(include={"project_dir", "env", "url", "migrations_dir", "lock_wait_seconds"})
    switch = SwitchRequest(
        **fields, approved=request.approved, approved_plan_id=request.approved_plan_id, dry_run=request.dry_run
    )
    return complete_deployment(switch, progress)


def _pending_headers(project) -> set[str]:
    if not _may_name_a_strategy(project.migrations_dir):
        return set()  # the usual case: no header, no parse, no connection (apply reads the files itself)
    migrations = project.read_migrations()
    if not any(m.strategy for m in migrations):
        return set()
    with connect(project, lock=False) as conn:
        pending = make_plan(migrations, conn.history.rows()).pending
    return {_name(m.strategy) for m in pending if m.strategy}


def _may_name_a_strategy(folder: Path) -> bool:
    """Whether any migration file's text says "strategy" at all: a plain substring test, so a history of a
    thousand files is not split into statements twice per apply only to find no header."""
    if not folder.is_dir():
        return False
    return any(b"strategy" in path.read_bytes().lower() for path in folder.iterdir() if path.suffix in (".sql", ".py"))


def _name(text: str) -> str:
    return text.strip().lower().replace("_", "-")
