"""MCP resources: status, history, migration files, effective configuration (all read-only).

The views at the bottom back the resources that have no service function of their own yet: each
is assembled from the service layer (status, open_project, config) and opens no database itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import Completion
from pydantic import BaseModel

from ...errors import MigrationError
from ...migrations.model import Migration, Script
from .calls import call_service, env_name, service
from .results import REPORTS_URI, ReportStore, ServerState, worded


def register_resources(server: MCPServer, state: ServerState) -> None:
    async def read(fn: Callable[..., Any], *args: Any) -> str:
        try:
            found = await call_service(fn, *args)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(worded(found.model_dump(mode="json")) if isinstance(found, BaseModel) else found, indent=1)

    def target(env: str | None = None) -> Any:
        return service.TargetRequest(project_dir=state.project_dir, env=resource_env(env))

    @server.resource(
        "migrations://status",
        name="status",
        mime_type="application/json",
        description="Status of the default environment (same as the status tool).",
    )
    async def status_default() -> str:
        return await read(service.status, target())

    @server.resource(
        "migrations://status/{env}",
        name="status-by-env",
        mime_type="application/json",
        description="Status of one environment: applied, pending, dirty, problems, next action.",
    )
    async def status_env(env: str) -> str:
        return await read(service.status, target(env))

    @server.resource(
        "migrations://history/{env}",
        name="history",
        mime_type="application/json",
        description="Migration history of one environment: the history table (every applied or dirty "
        "migration with when, how long, who, checksum, status), oldest first, and the append-only event log "
        "(every apply / rollback / resolve, success or failure), newest first.",
    )
    async def history_resource(env: str) -> str:
        return await read(service.history, target(env))

    @server.resource(
        "migrations://files",
        name="migration-files",
        mime_type="application/json",
        description="Every migration file with its version, format, checksum and parsed UP/DOWN "
        "statements (split for the default environment's dialect).",
    )
    async def files_resource() -> str:
        return await read(files, target())

    @server.resource(
        "migrations://config",
        name="config",
        mime_type="application/json",
        description="The effective configuration (environments, approvals, strategy, backups) "
        "with every secret redacted, and the files it came from.",
    )
    async def config_resource() -> str:
        return await read(effective_config, target())

    register_report_resources(server, state)


def register_report_resources(server: MCPServer, state: ServerState) -> None:
    """The full reports a tool result left out (it names the URI), and the reports of runs a client cancelled."""

    @server.resource(
        REPORTS_URI,
        name="reports",
        mime_type="application/json",
        description=f"The full reports this server process kept (the last {ReportStore.keep_last}): each tool result "
        "that was cut to fit and each run whose request was cancelled, oldest first, with its URI and headline.",
    )
    async def reports_list() -> str:
        kept = state.reports.reports.items()
        return json.dumps([{"uri": f"{REPORTS_URI}/{rid}", "headline": headline} for rid, (headline, _) in kept])

    @server.resource(
        REPORTS_URI + "/{report_id}",
        name="report",
        mime_type="application/json",
        description="One full report, as the tool result that was cut (or the cancelled run) named it.",
    )
    async def report_resource(report_id: str) -> str:
        found = state.reports.reports.get(report_id)
        if found is None:
            raise ResourceError(
                f"No report '{report_id[:40]}': this server keeps the last "
                f"{ReportStore.keep_last} reports of this process "
                f"(none survive a restart). {REPORTS_URI} lists them."
            )
        return json.dumps(found[1])


def register_completions(server: MCPServer, state: ServerState) -> None:
    """Offer the configured environment names wherever an `env` argument is typed (resources, prompts)."""

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if argument.name != "env":
            return None
        from ...config import load_settings

        try:
            names = sorted(load_settings(state.project_dir).environments)
        except MigrationError:
            return None
        return Completion(values=[n for n in names if n.startswith(argument.value)])


def resource_env(env: str | None) -> str | None:
    try:
        return env_name(env)
    except ToolError as exc:
        raise ResourceError(str(exc)) from None


def files(request: Any) -> dict[str, Any]:
    """Every migration file, parsed for the target environment's dialect (no database is opened)."""
    from ...service.context import open_project

    project = open_project(request)
    found, errors = project.read_each()
    return {
        "migrations_dir": str(project.migrations_dir),
        "dialect": project.dialect,
        "migrations": [_migration(m, project.dir) for m in found],
        "unreadable": [e.explain() for e in errors],
    }


def effective_config(request: Any) -> dict[str, Any]:
    from ...config import load_settings

    settings = load_settings(request.project_dir.resolve())
    return {
        "project_dir": str(request.project_dir.resolve()),
        "sources": settings.sources,
        "settings": settings.redacted(),
    }


def _migration(m: Migration, root: Any) -> dict[str, Any]:
    return {
        "version": m.version,
        "name": m.name,
        "format": m.format,
        "file": _relative(m.path, root),
        "down_file": _relative(m.down_path, root) if m.down_path else None,
        "checksum": m.checksum,
        "author": m.author,
        "strategy": m.strategy,
        "can_roll_back": m.can_roll_back,
        "up": _script(m.up),
        "down": _script(m.down) if m.down is not None else None,
    }


def _script(script: Script) -> dict[str, Any]:
    return {
        "statements": list(script.statements),
        "no_transaction": script.no_transaction,
        "python": script.python_callable,
        "source": script.source if script.is_python else None,
    }


def _relative(path: Any, root: Any) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
