"""MCP tool `switch` (blue-green: make green the active database, or go back to blue; the human approves it in a
dialog on a requireApproval environment, like apply). Wiring only: one use-case call per tool. There is no `url`
tool: the active URL carries the password, which a model never sees (`status` shows both sides redacted)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from ...reports import BlueGreenReport
from ...requests import SwitchRequest
from .approval import Approval, Gate, approved_request, can_elicit
from .calls import EnvArg, ProgressBridge, call_service, cli_command, target_of
from .results import bounded_output, tool_result

BackArg = Annotated[bool, Field(description="true: return to blue, with the writes made on green")]


def switch(request: SwitchRequest, progress: ProgressBridge | None = None) -> BlueGreenReport:
    from ...strategies.blue_green import switch  # loads the service: on the first call, not at start-up

    return switch(request, progress)


async def switch_plan(ctx: Context, env: EnvArg = None, back: BackArg = False) -> BlueGreenReport:
    return await call_service(switch, SwitchRequest(**target_of(ctx, env), back=back, dry_run=True))


async def switch_approval(
    plan: Annotated[BlueGreenReport, Resolve(switch_plan)], ctx: Context
) -> Elicit[Approval] | Gate:
    if not plan.needs_approval:
        return Gate(needed=False)
    if not can_elicit(ctx):
        return Gate(needed=True, reasons=plan.approval_reasons)
    text = "\n".join(
        [
            f"{'Switch back to blue' if plan.action == 'switch-back' else 'Switch to green'} on '{plan.environment}'?",
            f"  blue {plan.blue}, green {plan.green}; plan {plan.plan_id}",
            "  Writes are frozen on the serving side for well under a second while the other catches up.",
            "Approval needed because:",
            *[f"  - {r}" for r in plan.approval_reasons],
        ]
    )
    return Elicit(text, Approval)


def register_blue_green_tools(server: MCPServer, *, destructive: ToolAnnotations) -> None:
    @server.tool(name="switch", title="Blue-green: switch the active database", annotations=destructive)
    async def switch_tool(
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
        report = await call_service(switch, request, progress=ProgressBridge(ctx))
        if report.outcome == "needs-approval":
            raise ToolError(
                f"The deployment changed after the human approved plan {plan.plan_id}: nothing was switched. "
                "Call the tool again to show the new plan."
            )
        return tool_result(ctx, report, report.message)
