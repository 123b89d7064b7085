"""MCP tool `complete`, as the CLI's: ends a blue-green deployment under way on the environment (stops replication,
drops the side that does not serve), else runs the contract phase of expanded online / shadow migrations (what
`status` lists under waiting_for_complete). The human approves it in a dialog where the plan needs it (a
requireApproval environment; a blue-green end always, since it drops a database). Wiring only, recorded by
`@tool(...)` like tools.py's."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from ...reports import BlueGreenReport, ErrorReport, RunReport
from ...requests import CompleteRequest
from .approval import Approval, Gate, approval_for, approved_request
from .blue_green_tools import deployment_question, refuse_changed_plan
from .calls import CHANGES_DB, EnvArg, ProgressBridge, call_service, cli_command, target_of, tool, version_arg
from .results import bounded_output, run_text, tool_result

VersionArg = Annotated[
    str | None, Field(description="the expanded migration to complete (default: every expanded one, oldest first)")
]


class CompleteResult(BaseModel):
    """complete's report: a RunReport (the contract phase of expanded migrations), or a BlueGreenReport (a blue-green
    deployment ended: which database was dropped, the steps); the other fields are that report's."""

    model_config = ConfigDict(extra="allow")
    action: Literal["complete"]
    environment: str
    outcome: Literal["dry-run", "done", "nothing-to-do", "needs-approval", "failed"]
    plan_id: str
    message: str = ""
    error: ErrorReport | None = None


def run_complete(request: CompleteRequest, progress: ProgressBridge | None = None) -> RunReport | BlueGreenReport:
    from ...strategies.deployment import complete_with_strategy  # loads the service: on the first call

    return complete_with_strategy(request, progress)


async def complete_plan(ctx: Context, env: EnvArg = None, version: VersionArg = None) -> RunReport | BlueGreenReport:
    request = CompleteRequest(**target_of(ctx, env), version=version_arg(version, "version"), dry_run=True)
    return await call_service(run_complete, request)


async def complete_approval(
    plan: Annotated[RunReport | BlueGreenReport, Resolve(complete_plan)], ctx: Context
) -> Elicit[Approval] | Gate:
    if isinstance(plan, BlueGreenReport):
        return deployment_question(plan, ctx)
    return await approval_for(plan, ctx)


@tool(name="complete", title="Complete expanded migrations or a blue-green deployment", annotations=CHANGES_DB)
async def complete(
    ctx: Context,
    plan: Annotated[RunReport | BlueGreenReport, Resolve(complete_plan)],
    approval: Annotated[ElicitationResult[Approval], Resolve(complete_approval)],
    env: EnvArg = None,
    version: VersionArg = None,
) -> Annotated[CallToolResult, bounded_output(CompleteResult)]:
    """Where a blue-green deployment is under way (see status's blue_green): end it, as `db-migrate complete` does:
    stop replication and DROP the side that does not serve (blue after a switch, green otherwise). Else run the
    contract phase of migrations that `apply` left expanded (online strategy: enforce NOT NULL after the backfill;
    shadow: drop the old table), only after the application does what status's waiting_for_complete.app_must says.
    The human approves the exact plan in a dialog (always for a blue-green end, which drops a database; on a
    requireApproval environment for the contract phase); without their yes nothing changes."""
    grant = approved_request(approval, plan, cli_command(env, "complete" + (f" {version}" if version else "")))
    request = CompleteRequest(**target_of(ctx, env), version=version_arg(version, "version"), **grant)
    report = await call_service(run_complete, request, progress=ProgressBridge(ctx))
    if isinstance(report, BlueGreenReport):
        if isinstance(plan, BlueGreenReport):
            refuse_changed_plan(report, plan)
        return tool_result(ctx, report, report.message)
    return tool_result(ctx, report, run_text(report))
