"""The MCP tools: one module-level function per use case, each checking its arguments, calling one service function
in a worker thread and returning the service's report (`tool_result`). `@tool(...)` records a function with its
title and annotations; `server.build_server` registers every recorded one. Adding a tool is one function here (or
in a module `server.py` imports) with `EnvArg` and typed arguments and honest annotations (READ_ONLY / WRITES_FILE
/ CHANGES_DB); a tool that changes a database takes `plan` + `approval` resolvers and runs through
`approve_then_call` like `apply`, or a `confirmation` like `resolve` when the service has no dry run."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

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
from .calls import (
    CHANGES_DB,
    READ_ONLY,
    SCRATCH_COPY,
    WRITES_FILE,
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
    service,
    target_of,
    tool,
    version_arg,
)
from .results import (
    analyze_text,
    bounded_output,
    run_text,
    status_text,
    test_text,
    tool_result,
    validate_text,
)

StrategyArg = Annotated[
    Literal["offline", "online", "shadow", "blue-green", "auto"] | None,
    Field(
        description="how migrations whose file names no `-- strategy:` run (default: the strategy setting); "
        "online/auto keep writes going and may leave a migration expanded until `complete`"
    ),
]


@tool(title="Migration status", annotations=READ_ONLY)
async def status(ctx: Context, env: EnvArg = None) -> Annotated[CallToolResult, bounded_output(StatusReport)]:
    """Show which migrations are applied and pending on an environment, the current version, and any
    dirty (half-applied) or edited/missing migration, with the next step to take. Changes nothing."""
    report = await call_service(service.status, service.TargetRequest(**target_of(ctx, env)))
    return tool_result(ctx, report, status_text(report))


@tool(title="Create a migration file", annotations=WRITES_FILE)
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
    report = await call_service(service.create, service.CreateRequest(**target_of(ctx, env), name=name, format=format))
    return tool_result(ctx, report, f"Created {report.path} (version {report.version}). Write its UP and DOWN now.")


@tool(title="Validate migrations", annotations=READ_ONLY)
async def validate(ctx: Context, env: EnvArg = None) -> Annotated[CallToolResult, bounded_output(ValidateReport)]:
    """Check every migration file: it parses for the environment's SQL dialect, versions are unique, each
    has a DOWN, no applied migration was edited or lost, nothing is dirty, plus schema- and data-aware
    findings for the pending ones against the live database. Changes nothing."""
    report = await call_service(service.validate, service.TargetRequest(**target_of(ctx, env)))
    return tool_result(ctx, report, validate_text(report))


@tool(title="Preview an apply (dry run)", annotations=READ_ONLY)
async def dry_run(
    ctx: Context, env: EnvArg = None, to_version: ToVersionArg = None, strategy: StrategyArg = None
) -> Annotated[CallToolResult, bounded_output(RunReport)]:
    """Show exactly what `apply` would run: the pending migrations in order, each statement, whether it runs
    in a transaction, the findings, whether approval will be needed, and the plan id. With the blue-green strategy
    the statements are what the green copy would get (database: green); blue is never migrated. Changes nothing."""
    request = service.ApplyRequest(
        **target_of(ctx, env), to_version=version_arg(to_version), strategy=strategy, dry_run=True
    )
    report = await call_service(service.apply, request)
    return tool_result(ctx, report, run_text(report))


@tool(title="Apply pending migrations", annotations=CHANGES_DB)
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
    # service.apply: offline and blue-green drive the whole deployment; the report is the RunReport of the apply
    # they ran (blue-green: green's)
    report = await approve_then_call(ctx, service.apply, request, plan, approval, ask=approval_for, cli=cli)
    return tool_result(ctx, report, run_text(report))


@tool(name="rollback_plan", title="Preview a rollback (rollback plan)", annotations=READ_ONLY)
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


@tool(title="Roll back migrations", annotations=CHANGES_DB)
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


@tool(title="Resolve a dirty or edited migration", annotations=CHANGES_DB)
async def resolve(
    ctx: Context,
    confirmation: Annotated[ElicitationResult[Approval], Resolve(resolve_question)],
    version: Annotated[str, Field(description=described(ResolveRequest, "version", ", from the status tool"))],
    action: ResolveAction,
    env: EnvArg = None,
) -> Annotated[CallToolResult, bounded_output(RunReport)]:
    """Get out of a dirty state left by a failed or killed run, or accept an intended edit of an applied
    file. It rewrites migration history or re-runs statements, so the human always confirms it in a dialog."""
    grant = confirmed(confirmation, f"resolve {version} ({action})", cli_command(env, f"resolve {version} --{action}"))
    request = service.ResolveRequest(
        **target_of(ctx, env), version=version_arg(version, "version"), action=action, **grant
    )  # the human confirmed it in the dialog above
    report = await call_service(service.resolve, request, progress=ProgressBridge(ctx))
    return tool_result(ctx, report, run_text(report))


@tool(title="Baseline an existing database", annotations=CHANGES_DB)
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


@tool(title="Analyze pending migrations", annotations=READ_ONLY)
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


@tool(title="Test migrations on a copy", annotations=SCRATCH_COPY)
async def test(
    ctx: Context, env: EnvArg = None, to_version: ToVersionArg = None
) -> Annotated[CallToolResult, bounded_output(TestReport)]:
    """Rehearse the pending migrations on a scratch copy of the environment's database: copy it, apply them,
    check constraints, row counts and checksums of untouched tables, roll them back, compare schema and data
    with the original, and drop the copy. Every step is timed. The environment itself is only read."""
    request = service.TestRequest(**target_of(ctx, env), to_version=version_arg(to_version))
    report = await call_service(service.test, request, progress=ProgressBridge(ctx))
    return tool_result(ctx, report, test_text(report))


@tool(title="Compare environments", annotations=READ_ONLY)
async def compare(
    ctx: Context,
    envs: Annotated[
        list[str] | None,
        Field(description=described(CompareRequest, "environments", ", in promotion order (e.g. ['dev', 'staging'])")),
    ] = None,
) -> Annotated[CallToolResult, bounded_output(CompareReport)]:
    """The migration matrix across environments: for every migration, whether it is applied, pending, dirty
    or edited on each environment, and which environment is behind which. Changes nothing."""
    names = [name for name in (env_name(e) for e in envs or []) if name]
    report = await call_service(
        service.compare, service.CompareRequest(project_dir=project_of(ctx), environments=names)
    )
    lines = [
        f"{row.version}_{row.name}: " + ", ".join(f"{e}={s}" for e, s in row.states.items()) for row in report.rows[:50]
    ]
    return tool_result(ctx, report, "\n".join(report.summary + lines + [f"{e}: {m}" for e, m in report.errors.items()]))
