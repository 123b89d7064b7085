"""MCP tool `complete`: the contract phase of expanded online / shadow migrations (what `status` lists under
waiting_for_complete), approved by the human in a dialog on a requireApproval environment, like apply. Wiring only."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from ...reports import RunReport
from ...requests import CompleteRequest
from .approval import Approval, Gate, approval_for, approved_request
from .calls import EnvArg, ProgressBridge, call_service, cli_command, target_of, version_arg
from .results import bounded_output, run_text, tool_result

VersionArg = Annotated[
    str | None, Field(description="the expanded migration to complete (default: every expanded one, oldest first)")
]


def complete(request: CompleteRequest, progress: ProgressBridge | None = None) -> RunReport:
    from ...service.strategy_runs import complete  # loads the service: on the first call, not at start-up

    return complete(request, progress)


async def complete_plan(ctx: Context, env: EnvArg = None, version: VersionArg = None) -> RunReport:
    request = CompleteRequest(**target_of(ctx, env), version=version_arg(version, "version"), dry_run=True)
    return await call_service(complete, request)


async def complete_approval(
    plan: Annotated[RunReport, Resolve(complete_plan)], ctx: Context
) -> Elicit[Approval] | Gate:
    return await approval_for(plan, ctx)


def register_strategy_tools(server: MCPServer, *, destructive: ToolAnnotations) -> None:
    @server.tool(name="complete", title="Complete expanded migrations (contract phase)", annotations=destructive)
    async def complete_tool(
        ctx: Context,
        plan: Annotated[RunReport, Resolve(complete_plan)],
        approval: Annotated[ElicitationResult[Approval], Resolve(complete_approval)],
        env: EnvArg = None,
        version: VersionArg = None,
    ) -> Annotated[CallToolResult, bounded_output(RunReport)]:
        """Run the contract phase of migrations that `apply` left expanded (online strategy: enforce NOT NULL after
        the backfill; shadow: drop the old table). Only after the application does what status's
        waiting_for_complete.app_must says (e.g. writes the new column on every insert). On a requireApproval
        environment the human approves the exact plan in a dialog; without their yes nothing changes."""
        grant = approved_request(approval, plan, cli_command(env, "complete" + (f" {version}" if version else "")))
        request = CompleteRequest(**target_of(ctx, env), version=version_arg(version, "version"), **grant)
        report = await call_service(complete, request, progress=ProgressBridge(ctx))
        return tool_result(ctx, report, run_text(report))
