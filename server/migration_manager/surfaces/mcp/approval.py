"""Approvals through MCP elicitation: the human sees the exact plan and answers; the model cannot.

The resolvers below run before apply / rollback / resolve (the SDK's dependency injection): they
compute the plan with a dry run and, when the service says it needs approval (or the maintenance
window is closed), ask the human. The SDK carries the question over whichever protocol the
client speaks: a mid-call elicitation request, or an input-required round trip whose answer is
bound to the exact question (plan id included). The real run then passes
`approved_plan_id`, so the service refuses if the plan changed after the human said yes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from ...reports import RunReport, StatusReport
from ..text import migration_lines, rollback_plan_lines
from .calls import ProgressBridge, call_service, service_package, target_of, version_arg

PlanIdArg = Annotated[
    str | None,
    Field(description="The plan_id of the rollback_plan you showed the user; if the plan changed since, nothing runs."),
]

# The elicitation action, as the past tense the refusal says.
_ANSWERED = {"decline": "declined", "cancel": "cancelled"}
# From this protocol revision on, questions travel between the rounds of a call (the resolvers ask them), never
# in the middle of a tool's body.
_QUESTIONS_BETWEEN_ROUNDS = "2026-07-28"
ASKED_AGAIN_AT_MOST = 3  # a plan that keeps changing while the human reads it: stop asking, say so


class Approval(BaseModel):
    """What the human answers in the approval dialog (elicitation form)."""

    approve: bool = Field(title="Approve", description="Run exactly this plan now.")


class WindowApproval(Approval):
    outside_window: bool = Field(
        False,
        title="Run outside the maintenance window",
        description="The environment's maintenance window is closed now; tick to run anyway.",
    )


class Gate(BaseModel):
    """The resolver's own verdict when no dialog is shown."""

    needed: bool  # approval needed but the client cannot ask the human
    reasons: list[str] = []
    window_closed: bool = False


def plan_text(plan: RunReport, reasons: list[str]) -> str:
    verb = {"apply": "Apply", "complete": "Complete (contract phase)"}.get(plan.action, "Roll back")
    lines = [
        f"{verb} {len(plan.migrations)} migration(s) on '{plan.environment}' ({plan.database})",
        f"plan {plan.plan_id}, version {plan.version_before or '(none)'}:",
    ]
    for run in plan.migrations:
        lines += migration_lines(run)  # the terminal's line: direction, mode, strategy, what it archives
        lines += [f"    {i}. {_preview(s.sql)}" for i, s in enumerate(run.statements[:12], start=1)]
        if len(run.statements) > 12:
            lines.append(f"    … {len(run.statements) - 12} more statement(s)")
    if plan.rollback_plan:
        lines += rollback_plan_lines(plan.rollback_plan)
    if reasons:
        lines.append("Approval needed because:")
        lines += [f"  - {r}" for r in reasons]
    return "\n".join(lines)


def _preview(sql: str, limit: int = 160) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    form = caps.elicitation if caps is not None else None
    return form is not None and (form.form is not None or form.url is None)


async def approval_for(plan: RunReport, ctx: Context) -> Elicit[Approval] | Elicit[WindowApproval] | Gate:
    reasons = list(plan.approval_reasons)
    closed = bool(plan.migrations) and plan.window_open is False
    if closed:
        reasons.append(f"the maintenance window of '{plan.environment}' is closed now")
    if not plan.migrations or not reasons or plan.outcome == "failed":
        return Gate(needed=False)  # a refused plan (no DOWN, validation errors) runs nothing: no question to ask
    if not can_elicit(ctx):
        return Gate(needed=True, reasons=reasons, window_closed=closed)
    return Elicit(plan_text(plan, reasons), WindowApproval if closed else Approval)


def approved_request(outcome: ElicitationResult[Approval], plan: RunReport, cli: str) -> dict[str, Any]:
    """The approval fields for the real run, or a ToolError saying why nothing runs."""
    if not isinstance(outcome, AcceptedElicitation):
        answered = _ANSWERED.get(outcome.action, outcome.action)
        raise ToolError(f"The human {answered} the approval for plan {plan.plan_id}. Nothing was changed.")
    answer = outcome.data
    if isinstance(answer, Gate):
        if not answer.needed:
            return {}
        if answer.window_closed:
            cli += " --outside-window"
        raise ToolError(
            f"{plan.action.capitalize()} on '{plan.environment}' needs a human's approval "
            f"({'; '.join(answer.reasons)}), and this MCP client cannot show an approval dialog "
            f"(it does not support elicitation). Nothing was changed. A human can review and approve it "
            f"in a terminal: `{cli} --dry-run`, then `{cli}` and answer y (or add --yes)."
        )
    if not answer.approve:
        raise ToolError(f"The human did not approve plan {plan.plan_id}. Nothing was changed.")
    return {
        "approved": True,
        "approved_plan_id": plan.plan_id,
        "outside_window": bool(getattr(answer, "outside_window", False)),
    }


# ---- resolvers: run before apply / rollback / resolve (SDK dependency injection) --------
# They compute the plan and, when needed, ask the human; the SDK carries the question over
# whichever protocol the client speaks (a mid-call elicitation, or an input-required round).


async def apply_plan(
    ctx: Context, env: str | None = None, to_version: str | None = None, strategy: str | None = None
) -> RunReport:
    service = service_package()
    request = service.ApplyRequest(
        **target_of(ctx, env), to_version=version_arg(to_version), strategy=strategy, dry_run=True
    )
    return await call_service(service.apply, request)


async def apply_approval(plan: Annotated[RunReport, Resolve(apply_plan)], ctx: Context) -> Elicit[Approval] | Gate:
    return await approval_for(plan, ctx)


async def rollback_plan(
    ctx: Context,
    env: str | None = None,
    to_version: str | None = None,
    steps: int | None = None,
    emergency: bool = False,
) -> RunReport:
    service = service_package()
    request = service.RollbackRequest(
        **target_of(ctx, env), to_version=version_arg(to_version), steps=steps, dry_run=True, emergency=emergency
    )
    return await call_service(service.rollback, request)


async def rollback_approval(
    plan: Annotated[RunReport, Resolve(rollback_plan)], ctx: Context, plan_id: str | None = None
) -> Elicit[Approval] | Gate:
    if plan_id and plan_id != plan.plan_id:  # checked before the human is asked anything
        raise ToolError(
            f"The rollback plan changed since plan {plan_id} was shown (it is now {plan.plan_id}): nothing "
            "was rolled back. Call rollback_plan again and show the user the new plan."
        )
    return await approval_for(plan, ctx)


async def resolve_question(ctx: Context, version: str, action: str, env: str | None = None) -> Elicit[Approval] | Gate:
    service = service_package()
    state = await call_service(service.status, service.TargetRequest(**target_of(ctx, env)))
    question = (
        f"Resolve migration {version_arg(version, 'version')} on '{state.environment}' ({state.database}) "
        f"with '{action}'?\n{state.dirty_detail or 'Status: ' + state.next_action}"
    )
    return history_question(ctx, state, question)


async def baseline_question(ctx: Context, version: str, env: str | None = None) -> Elicit[Approval] | Gate:
    service = service_package()
    state = await call_service(service.status, service.TargetRequest(**target_of(ctx, env)))
    wanted = version_arg(version, "version")
    versions = [m.version for m in state.pending]
    if wanted not in versions:
        raise ToolError(f"Version {wanted} is not pending on '{state.environment}' (see the status tool).")
    chosen = state.pending[: versions.index(wanted) + 1]
    question = "\n".join(
        [
            f"Record {len(chosen)} migration(s) as APPLIED on '{state.environment}' ({state.database}) WITHOUT "
            "running them? Only if the database already has these changes:"
        ]
        + [f"  {m.version}_{m.name}" for m in chosen]
    )
    return history_question(ctx, state, question)


def history_question(ctx: Context, state: StatusReport, question: str) -> Elicit[Approval] | Gate:
    """The dialog of a history change; a closed maintenance window (as the service's status says) is said and
    offered, as apply's dialog does."""
    closed = state.window_open is False
    if not can_elicit(ctx):
        return Gate(needed=True, window_closed=closed)
    if closed:
        question += f"\nThe maintenance window of '{state.environment}' is closed now."
    return Elicit(question, WindowApproval if closed else Approval)


def confirmed(outcome: ElicitationResult[Approval], what: str, cli: str) -> dict[str, Any]:
    """The approval fields of a history change the human confirmed in the dialog; else the ToolError that stops it
    (declined, or no dialog to ask in)."""
    if isinstance(outcome, AcceptedElicitation) and isinstance(outcome.data, Gate):
        if outcome.data.window_closed:
            cli += " --outside-window"
        raise ToolError(
            f"{what} changes the migration history, so a human must confirm it, and this MCP client cannot "
            f"show a dialog (no elicitation support). Nothing was changed. In a terminal: `{cli}`."
        )
    if not isinstance(outcome, AcceptedElicitation) or not outcome.data.approve:
        raise ToolError(f"The human did not confirm: {what}. Nothing was changed.")
    return {"approved": True, "outside_window": bool(getattr(outcome.data, "outside_window", False))}


# ---- approve, then call --------------------------------------------------------------------
Ask = Callable[[Any, Context], Awaitable[Elicit[Any] | Gate]]


async def approve_then_call(
    ctx: Context,
    use_case: Callable[..., Any],
    request: BaseModel,
    plan: Any,
    answer: ElicitationResult[Any],
    *,
    ask: Ask,
    cli: str,
) -> Any:
    """Run `use_case` with the human's approval of `plan` (apply, rollback, restore). The service binds the approval
    to the plan id: when the plan changed after the human said yes, it runs nothing and returns the new plan, which
    is asked again here (the same dialog, `ask`) before anything runs."""
    for _ in range(ASKED_AGAIN_AT_MOST + 1):
        grant = approved_request(answer, plan, cli)
        report = await call_service(use_case, request.model_copy(update=grant), progress=ProgressBridge(ctx))
        if not (grant and report.outcome == "needs-approval"):
            return report
        changed = f"The plan changed after the human approved plan {plan.plan_id} (it is now {report.plan_id})"
        if not _can_ask_mid_call(ctx):
            raise ToolError(f"{changed}: nothing ran. Call the tool again to show the new plan.")
        plan, answer = report, await _asked(await ask(report, ctx), ctx)
    raise ToolError(f"{changed} again and again while the human read it: nothing ran. Call the tool later.")


def _can_ask_mid_call(ctx: Context) -> bool:
    """True when this client takes a question in the middle of a call (protocol revisions before input-required
    rounds, and in-process calls), as the SDK decides it for the resolvers."""
    version = ctx.protocol_version
    return version is None or not is_version_at_least(version, _QUESTIONS_BETWEEN_ROUNDS)


async def _asked(question: Elicit[Any] | Gate, ctx: Context) -> ElicitationResult[Any]:
    """A resolver's question asked now (a Gate is its own answer, as when a resolver returns one)."""
    if isinstance(question, Gate):
        return AcceptedElicitation(data=question)
    return await ctx.elicit(question.message, question.schema)
