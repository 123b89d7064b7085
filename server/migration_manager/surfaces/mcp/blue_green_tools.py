"""MCP tool `switch` (blue-green: make green the active database, or go back to blue; the human approves it in a
dialog on a requireApproval environment, like apply), and the dialog `complete` shows to end a deployment. Wiring
only: one use-case call per tool, recorded by `@tool(...)` like tools.py's. There is no `url` tool: the active URL
carries the password, which a model never sees (`status` shows both sides redacted)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from ...reports import BlueGreenReport
from ...requests import SwitchRequest
from .approval import Approval, Gate, approved_request, can_elicit
from .calls import CHANGES_DB, EnvArg, ProgressBridge, call_service, cli_command, target_of, tool
from .results import bounded_output, tool_result

BackArg = Annotated[bool, Field(description="true: return to blue, with the writes made on green")]


def run_switch(request: SwitchRequest, progress: ProgressBridge | None = None) -> BlueGreenReport:
    from ...strategies.blue_green import switch  # loads the service: on the first call, not at start-up

    return switch(request, progress)


async def switch_plan(ctx: Context, env: EnvArg = None, back: BackArg = False) -> BlueGreenReport:
    return await call_service(run_switch, SwitchRequest(**target_of(ctx, env), back=back, dry_run=True))


def deployment_question(plan: BlueGreenReport, ctx: Context) -> Elicit[Approval] | Gate:
    """The approval dialog of a switch, a switch back or the end of a deployment (which drops a database)."""
    if not plan.needs_approval:
        return Gate(needed=False)
    if not can_elicit(ctx):
        return Gate(needed=True, reasons=plan.approval_reasons)
    what = {
        "switch": "Switch to green",
        "switch-back": "Switch back to blue",
        "complete": "Complete the blue-green deployment (stop replication, drop the side that does not serve)",
    }[plan.action]
    lines = [f"{what} on '{plan.environment}'?", f"  blue {plan.blue}, green {plan.green}; plan {plan.plan_id}"]
    if plan.action != "complete":
        lines.append("  Writes are frozen on the serving side for well under a second while the other catches up.")
    lines += ["Approval needed because:", *[f"  - {r}" for r in plan.approval_reasons]]
    return Elicit("\n".join(lines), Approval)


async def switch_approval(
    plan: Annotated[BlueGreenReport, Resolve(switch_plan)], ctx: Context
) -> Elicit[Approval] | Gate:
    return deployment_question(plan, ctx)


def refuse_changed_plan(report: BlueGreenReport, plan: BlueGreenReport) -> None:
    if report.outcome == "needs-approval":
        raise ToolError(
            f"The deployment changed after the human approved plan {plan.plan_id}: nothing was {plan.action}ed. "
            "Call the tool again to show the new plan."
        )


@tool(name="switch", title="Blue-green: switch the active database", annotations=CHANGES_DB)
async def switch(
    ctx: Context,
    plan: Annotated[BlueGreenReport, Resolve(switch_plan)],
    approval: Annotated[ElicitationResult[Approval], Resolve(switch_approval)],
    env: EnvArg = None,
    back: BackArg = False,
) -> Annotated[CallToolResult, bounded_output(BlueGreenReport)]:
    """Make green (migrated by `apply` with the blue-green strategy) the environment's active database: writes
    on blue are frozen, green catches up (lag 0), sequences are set, and blue then receives green's writes.
    back=true returns to blue with green's writes. The report gives the freeze in ms. On a requireApproval
    environment the human approves it in a dialog; without their yes nothing changes."""
    grant = approved_request(approval, plan, cli_command(env, "switch" + (" --back" if back else "")))
    request = SwitchRequest(**target_of(ctx, env), back=back, **grant)
    report = await call_service(run_switch, request, progress=ProgressBridge(ctx))
    refuse_changed_plan(report, plan)
    return tool_result(ctx, report, report.message)
