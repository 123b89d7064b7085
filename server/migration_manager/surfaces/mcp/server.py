"""MCP server: every migration-manager use case as an MCP tool, plus resources and prompts.

Wiring only: each tool checks its arguments, calls one service function in a worker thread
and returns the service's pydantic report as structured output (with a short summary and the
JSON as text, for clients that read text only). Safety lives in the service; this layer adds
exactly one thing, the human in the loop: an apply or rollback the service says needs
approval is shown to the human through MCP elicitation, bound to the plan id they saw.
There is no argument a model can set to approve.

A service call runs in a worker thread that a client's cancel never abandons: the cancel asks the
runner to stop at its next safe point (calls.ProgressBridge), so a migration is never cut half-way.
Results are bounded in size, with the full report as a resource (results.py).

Adding a tool (test, sync, backup, restore...): one function in `build_server` taking `EnvArg`
and typed arguments, calling `call_service(service.x, service.XRequest(**target_of(ctx, env), ...))`
and returning `tool_result(ctx, report, summary)`, with honest annotations (READ_ONLY / WRITES_FILE /
CHANGES_DB). A tool that changes a database takes `plan` + `approval` resolvers like `apply`
(see approval.py), or `confirmation` like `resolve` when the service has no dry run.

Run: `migration-manager-mcp` (stdio, for Claude Code / .mcp.json) or
`MM_MCP_TOKEN=... migration-manager-mcp --transport http --port 8765` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import hmac
import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ... import __version__
from ...reports import AnalyzeReport, CompareReport, CreateReport, RunReport, StatusReport, TestReport, ValidateReport
from ...requests import AnalyzeRequest, BaselineRequest, CompareRequest, CreateRequest, ResolveRequest, described
from .approval import (
    Approval,
    PlanIdArg,
    apply_approval,
    apply_plan,
    approval_for,
    approve_then_call,
    baseline_question,
    confirmed,
    resolve_question,
    rollback_approval,
    rollback_plan,
)
from .backup_tools import register_backup_tools
from .blue_green_tools import register_blue_green_tools
from .calls import (
    Emergency,
    EnvArg,
    ProgressBridge,
    ResolveAction,
    RollbackTo,
    Steps,
    ToVersionArg,
    call_service,
    cli_command,
    env_name,
    is_migration_name,
    project_of,
    service_package,
    target_of,
    version_arg,
)
from .prompts import register_prompts
from .resources import register_completions, register_resources
from .results import (
    ReportStore,
    analyze_text,
    bounded_output,
    run_text,
    status_text,
    test_text,
    tool_result,
    validate_text,
)
from .strategy_tools import register_strategy_tools

TOKEN_VAR = "MM_MCP_TOKEN"
PROJECT_VAR = "MM_PROJECT_DIR"

# ---- server ------------------------------------------------------------------------------
StrategyArg = Annotated[
    Literal["offline", "online", "shadow", "blue-green", "auto"] | None,
    Field(
        description="how migrations whose file names no `-- strategy:` run (default: the strategy setting); "
        "online/auto keep writes going and may leave a migration expanded until `complete`"
    ),
]
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITES_FILE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHANGES_DB = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=False)
# Creates a scratch copy beside the environment's database and drops it again: the environment is only read.
SCRATCH_COPY = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)

INSTRUCTIONS = """migration-manager: safe database schema migrations.
Workflow: status -> validate -> analyze -> dry_run -> apply; to undo: rollback_plan (show it) -> rollback with its
plan_id; compare across environments. Long results are cut to fit; the full report is a migrations://reports resource.
Tools take environment NAMES from the project's configuration (read migrations://config), never URLs.
apply and rollback ask the human for approval when the environment or the plan requires it; you cannot approve.
"""


class _LazyService:
    """The service package, imported on the first tool call: `initialize` is answered before it loads."""

    def __getattr__(self, name: str) -> Any:
        return getattr(service_package(), name)


def _default_project() -> Path:
    # Claude Code starts project servers in the project and sets CLAUDE_PROJECT_DIR for them too.
    return Path(os.environ.get(PROJECT_VAR) or os.environ.get("CLAUDE_PROJECT_DIR") or Path.cwd())


class MigrationServer(MCPServer):
    """MCPServer whose tools refuse unknown arguments (a misspelt `to_version` must not apply everything), explain
    invalid ones in one line, and describe themselves without the docstrings' indentation."""

    def tool(self, *args: Any, **kwargs: Any) -> Any:
        register = super().tool(*args, **kwargs)

        def tidy(fn: Any) -> Any:
            fn.__doc__ = inspect.cleandoc(fn.__doc__ or "")
            registered = register(fn)
            self._tool_manager.get_tool(kwargs.get("name") or fn.__name__).parameters["additionalProperties"] = False
            return registered

        return tidy

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        known = set(tool.parameters.get("properties", {})) if tool else set()
        unknown = sorted(set(arguments) - known) if tool else []
        if unknown:
            raise ToolError(
                f"Unknown argument(s) for {name}: {', '.join(unknown)}. Nothing was run. {name} takes: "
                f"{', '.join(sorted(known)) or 'no arguments'}."
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.__cause__.errors())
            raise ToolError(
                f"Invalid argument for {name} ({problems}). Nothing was run; call it again with a valid value."
            ) from None


def deployment_module() -> Any:
    from ...strategies import deployment  # imported on the first apply, like the service package

    return deployment


def build_server(project_dir: Path | None = None) -> MCPServer:
    service = _LazyService()
    server = MigrationServer(
        "migration-manager",
        title="Migration manager",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    server.project_dir = (project_dir or _default_project()).resolve()
    server.reports = ReportStore()  # full reports of results cut to fit, and of cancelled runs

    @server.tool(title="Migration status", annotations=READ_ONLY)
    async def status(ctx: Context, env: EnvArg = None) -> Annotated[CallToolResult, bounded_output(StatusReport)]:
        """Show which migrations are applied and pending on an environment, the current version, and any
        dirty (half-applied) or edited/missing migration, with the next step to take. Changes nothing."""
        report = await call_service(service.status, service.TargetRequest(**target_of(ctx, env)))
        return tool_result(ctx, report, status_text(report))

    @server.tool(title="Create a migration file", annotations=WRITES_FILE)
    async def create(
        ctx: Context,
        name: Annotated[str, Field(description=described(CreateRequest, "name"))],
        format: Annotated[Literal["sql", "python"], Field(description=described(CreateRequest, "format"))] = "sql",
        env: EnvArg = None,
    ) -> Annotated[CallToolResult, bounded_output(CreateReport)]:
        """Create a new, empty migration file in the project's migrations folder (version = UTC timestamp) and
        return its path. Write the UP and the DOWN into that file next. Touches no database."""
        if not is_migration_name(name):
            raise ToolError("name must be words made of letters, digits, spaces, '_' or '-' (e.g. 'add user phone').")
        report = await call_service(
            service.create, service.CreateRequest(**target_of(ctx, env), name=name, format=format)
        )
        return tool_result(ctx, report, f"Created {report.path} (version {report.version}). Write its UP and DOWN now.")

    @server.tool(title="Validate migrations", annotations=READ_ONLY)
    async def validate(ctx: Context, env: EnvArg = None) -> Annotated[CallToolResult, bounded_output(ValidateReport)]:
        """Check every migration file: it parses for the environment's SQL dialect, versions are unique, each
        has a DOWN, no applied migration was edited or lost, nothing is dirty, plus schema- and data-aware
        findings for the pending ones against the live database. Changes nothing."""
        report = await call_service(service.validate, service.TargetRequest(**target_of(ctx, env)))
        return tool_result(ctx, report, validate_text(report))

    @server.tool(title="Preview an apply (dry run)", annotations=READ_ONLY)
    async def dry_run(
        ctx: Context, env: EnvArg = None, to_version: ToVersionArg = None, strategy: StrategyArg = None
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Show exactly what `apply` would run: the pending migrations in order, each statement, whether it runs
        in a transaction, the findings, whether approval will be needed, and the plan id. Changes nothing."""
        request = service.ApplyRequest(
            **target_of(ctx, env), to_version=version_arg(to_version), strategy=strategy, dry_run=True
        )
        report = await call_service(service.apply, request)
        return tool_result(ctx, report, run_text(report))

    @server.tool(title="Apply pending migrations", annotations=CHANGES_DB)
    async def apply(
        ctx: Context,
        plan: Annotated[RunReport, Resolve(apply_plan)],
        approval: Annotated[ElicitationResult[Approval], Resolve(apply_approval)],
        env: EnvArg = None,
        to_version: ToVersionArg = None,
        strategy: StrategyArg = None,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Apply the pending migrations (up to to_version) under the migration lock, with backup, per-statement
        progress and history. If the environment requires approval (requireApproval, maintenance window) or
        the plan is dangerous, the human is asked to approve the exact plan in a dialog; without their yes
        nothing changes. Run dry_run first and show the plan to the user."""
        request = service.ApplyRequest(**target_of(ctx, env), to_version=version_arg(to_version), strategy=strategy)
        cli = cli_command(env, "apply", to=to_version) + (f" --strategy {strategy}" if strategy else "")
        # offline and blue-green drive the whole deployment; the report is the RunReport of the apply they ran
        use_case = deployment_module().apply_as_run
        report = await approve_then_call(ctx, use_case, request, plan, approval, ask=approval_for, cli=cli)
        return tool_result(ctx, report, run_text(report))

    @server.tool(name="rollback_plan", title="Preview a rollback (rollback plan)", annotations=READ_ONLY)
    async def preview_rollback(
        ctx: Context,
        env: EnvArg = None,
        to_version: RollbackTo = None,
        steps: Steps = None,
        emergency: Emergency = False,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Show exactly what `rollback` would do with the same arguments, without doing it: the migrations it would
        undo (newest first) and their DOWN statements, per migration whether it can roll back and what its DOWN
        destroys (counted rows), the backup it takes first, the estimated time, whether the human must approve,
        and the plan id. Changes nothing. Show it to the user before any rollback, and pass its plan_id to
        rollback."""
        report = await rollback_plan(ctx, env, to_version, steps, emergency)
        return tool_result(ctx, report, run_text(report))

    @server.tool(title="Roll back migrations", annotations=CHANGES_DB)
    async def rollback(
        ctx: Context,
        plan: Annotated[RunReport, Resolve(rollback_plan)],
        approval: Annotated[ElicitationResult[Approval], Resolve(rollback_approval)],
        env: EnvArg = None,
        to_version: RollbackTo = None,
        steps: Steps = None,
        emergency: Emergency = False,
        plan_id: PlanIdArg = None,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Undo the newest applied migration (or `steps` of them, or all newer than to_version) by running their
        DOWN scripts under the migration lock, after a backup. Call rollback_plan first, show the plan to the user
        and pass its plan_id: if the plan changed since, nothing runs. The report's rollback_plan says, per
        migration, whether it can roll back, what its DOWN destroys (counted rows), the backup and the estimated
        time. Same approvals as apply: the human approves the exact plan."""
        request = service.RollbackRequest(
            **target_of(ctx, env), to_version=version_arg(to_version), steps=steps, emergency=emergency
        )
        cli = cli_command(env, "rollback", to=to_version, steps=steps, emergency=emergency)
        report = await approve_then_call(ctx, service.rollback, request, plan, approval, ask=approval_for, cli=cli)
        return tool_result(ctx, report, run_text(report))

    @server.tool(title="Resolve a dirty or edited migration", annotations=CHANGES_DB)
    async def resolve(
        ctx: Context,
        confirmation: Annotated[ElicitationResult[Approval], Resolve(resolve_question)],
        version: Annotated[str, Field(description=described(ResolveRequest, "version", ", from the status tool"))],
        action: ResolveAction,
        env: EnvArg = None,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Get out of a dirty state left by a failed or killed run, or accept an intended edit of an applied
        file. It rewrites migration history or re-runs statements, so the human always confirms it in a dialog."""
        grant = confirmed(
            confirmation, f"resolve {version} ({action})", cli_command(env, f"resolve {version} --{action}")
        )
        request = service.ResolveRequest(
            **target_of(ctx, env), version=version_arg(version, "version"), action=action, **grant
        )  # the human confirmed it in the dialog above
        report = await call_service(service.resolve, request, progress=ProgressBridge(ctx))
        return tool_result(ctx, report, run_text(report))

    @server.tool(title="Baseline an existing database", annotations=CHANGES_DB)
    async def baseline(
        ctx: Context,
        confirmation: Annotated[ElicitationResult[Approval], Resolve(baseline_question)],
        version: Annotated[str, Field(description=described(BaselineRequest, "version"))],
        env: EnvArg = None,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Adopt a database that already has the schema: record the pending migrations up to `version` as
        applied WITHOUT running them. Wrong use hides real pending changes, so the human always confirms it."""
        grant = confirmed(confirmation, f"baseline up to {version}", cli_command(env, "baseline", to=version))
        request = service.BaselineRequest(**target_of(ctx, env), version=version_arg(version, "version"), **grant)
        report = await call_service(service.baseline, request)
        return tool_result(ctx, report, run_text(report))

    _register_analysis_tools(server, service)
    register_backup_tools(server, service, writes=WRITES_FILE, destructive=CHANGES_DB)
    register_blue_green_tools(server, destructive=CHANGES_DB)
    register_strategy_tools(server, destructive=CHANGES_DB)
    register_resources(server, service)
    register_prompts(server)
    register_completions(server)
    return server


def _register_analysis_tools(server: MCPServer, service: Any) -> None:
    @server.tool(title="Analyze pending migrations", annotations=READ_ONLY)
    async def analyze(
        ctx: Context,
        env: EnvArg = None,
        version: Annotated[str | None, Field(description=described(AnalyzeRequest, "version"))] = None,
    ) -> Annotated[CallToolResult, bounded_output(AnalyzeReport)]:
        """Analyze the pending migrations against the live database before running them: every statement as it
        will run, and the data-aware findings with real counts from the tables (rows and values a DROP loses,
        values a narrower type truncates, duplicates blocking a UNIQUE, NULLs blocking NOT NULL, orphans blocking
        a FOREIGN KEY, rows violating a CHECK), lock-heavy operations, each with the probe query, a recommendation
        and a safe rewrite; and whether applying will need the human's approval. Changes nothing."""
        request = service.AnalyzeRequest(**target_of(ctx, env), version=version_arg(version, "version"))
        report = await call_service(service.analyze, request)
        return tool_result(ctx, report, analyze_text(report))

    @server.tool(title="Test migrations on a copy", annotations=SCRATCH_COPY)
    async def test(
        ctx: Context, env: EnvArg = None, to_version: ToVersionArg = None
    ) -> Annotated[CallToolResult, bounded_output(TestReport)]:
        """Rehearse the pending migrations on a scratch copy of the environment's database: copy it, apply them,
        check constraints, row counts and checksums of untouched tables, roll them back, compare schema and data
        with the original, and drop the copy. Every step is timed. The environment itself is only read."""
        request = service.TestRequest(**target_of(ctx, env), to_version=version_arg(to_version))
        report = await call_service(service.test, request, progress=ProgressBridge(ctx))
        return tool_result(ctx, report, test_text(report))

    @server.tool(title="Compare environments", annotations=READ_ONLY)
    async def compare(
        ctx: Context,
        envs: Annotated[
            list[str] | None,
            Field(
                description=described(CompareRequest, "environments", ", in promotion order (e.g. ['dev', 'staging'])")
            ),
        ] = None,
    ) -> Annotated[CallToolResult, bounded_output(CompareReport)]:
        """The migration matrix across environments: for every migration, whether it is applied, pending, dirty
        or edited on each environment, and which environment is behind which. Changes nothing."""
        names = [name for name in (env_name(e) for e in envs or []) if name]
        report = await call_service(
            service.compare, service.CompareRequest(project_dir=project_of(ctx), environments=names)
        )
        lines = [
            f"{row.version}_{row.name}: " + ", ".join(f"{e}={s}" for e, s in row.states.items())
            for row in report.rows[:50]
        ]
        return tool_result(
            ctx, report, "\n".join(report.summary + lines + [f"{e}: {m}" for e, m in report.errors.items()])
        )


# ---- transports --------------------------------------------------------------------------
class BearerGate:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(dict(scope.get("headers") or [])):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="migration-manager"'),
                    ],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"error": "unauthorized", "message": "Send Authorization: Bearer <MM_MCP_TOKEN>."}',
                }
            )
            return
        await self.app(scope, receive, send)  # lifespan and authorized requests

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)


def http_app(server: MCPServer, token: str) -> BearerGate:
    return BearerGate(server.streamable_http_app(host="127.0.0.1"), token)


def serve_http(server: MCPServer, port: int, token: str | None) -> None:
    if not token or len(token) < 16:
        raise SystemExit(
            f"Refusing to serve HTTP without a bearer token: set {TOKEN_VAR} to a secret of at "
            "least 16 characters (clients send it as 'Authorization: Bearer <token>')."
        )
    import uvicorn

    config = uvicorn.Config(http_app(server, token), host="127.0.0.1", port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="migration-manager-mcp", description="migration-manager MCP server")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port on 127.0.0.1 (http transport)")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help=f"project folder (default: ${PROJECT_VAR}, else $CLAUDE_PROJECT_DIR, else the current directory)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout belongs to the protocol on stdio
    server = build_server(args.project_dir)
    if args.transport == "http":
        serve_http(server, args.port, os.environ.get(TOKEN_VAR))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
