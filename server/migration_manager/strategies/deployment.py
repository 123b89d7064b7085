"""`apply` with a strategy that drives the whole deployment around the migrations: offline (stop the application,
back up, apply, validate, start it again: strategies/offline.py) and blue-green (migrate and test a replicated
green copy to switch to: strategies/blue_green.py). Every other strategy is the apply itself.

The strategy is `apply --strategy NAME`, else a pending migration's `-- strategy: blue-green` header, else the
`strategy` setting. An offline setting drives the stop / start commands only where they are configured (without
them it is the plain apply inside the maintenance window, as before); `--strategy offline` requires them.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..migrations.plan import make_plan
from ..service.context import Progress, connect, open_project
from ..service.migrate import ApplyRequest, apply


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


def _pending_headers(project) -> set[str]:
    migrations = project.read_migrations()
    if not any(m.strategy for m in migrations):
        return set()  # the usual case: no header, no connection
    with connect(project, lock=False) as conn:
        pending = make_plan(migrations, conn.history.rows()).pending
    return {_name(m.strategy) for m in pending if m.strategy}


def _name(text: str) -> str:
    return text.strip().lower().replace("_", "-")
