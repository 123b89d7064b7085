"""MCP tools `backup` (create / list) and `restore` (destructive: the human approves the exact backup and
target in a dialog, like apply). Wiring only: one service call per tool."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from ...reports import BackupReport, RestoreReport
from .approval import Approval, Gate, approve_then_call, can_elicit
from .calls import (
    CHANGES_DB,
    WRITES_FILE,
    EnvArg,
    ProgressBridge,
    call_service,
    cli_command,
    service,
    service_package,
    target_of,
    tool,
)
from .calls import VERSION as SAFE_ID
from .results import backup_text, bounded_output, tool_result

BackupIdArg = Annotated[
    str | None,
    Field(
        description="Backup id from the backup tool's list (e.g. '20260115T093000Z-production-3fa1'); "
        "omit for the newest backup of the environment."
    ),
]


def backup_id_arg(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not SAFE_ID.match(value):
        raise ToolError("backup_id must be an id from the backup tool's list, like 20260115T093000Z-production-3fa1.")
    return value


async def restore_plan(ctx: Context, env: str | None = None, backup_id: str | None = None) -> RestoreReport:
    service = service_package()
    chosen = backup_id_arg(backup_id)
    return await call_service(
        service.restore,
        service.RestoreRequest(**target_of(ctx, env), backup_id=chosen, latest=chosen is None, dry_run=True),
    )


async def restore_approval(
    plan: Annotated[RestoreReport, Resolve(restore_plan)], ctx: Context
) -> Elicit[Approval] | Gate:
    if not plan.needs_approval:
        return Gate(needed=False)
    if not can_elicit(ctx):
        return Gate(needed=True, reasons=plan.approval_reasons)
    b = plan.backup
    text = "\n".join(
        [
            f"Restore backup {b.id} into '{plan.environment}' ({plan.database})?",
            f"  taken {b.created_at:%Y-%m-%d %H:%M:%S} UTC at version {b.version_before or '(none)'}, "
            f"{b.scope} backup, {b.size_bytes:,} bytes, sha256 verified; plan {plan.plan_id}",
            "Approval needed because:",
            *[f"  - {r}" for r in plan.approval_reasons],
        ]
    )
    return Elicit(text, Approval)


@tool(title="Back up an environment, or list its backups", annotations=WRITES_FILE)
async def backup(
    ctx: Context,
    action: Annotated[
        Literal["create", "list"],
        Field(
            description="'create': take a backup now (pg_dump / mariadb-dump / SQLite backup API) with its manifest; "
            "'list': the environment's backups, oldest first."
        ),
    ] = "list",
    env: EnvArg = None,
) -> Annotated[CallToolResult, bounded_output(BackupReport)]:
    """Take a backup of an environment's database now (under the migration lock, with a manifest: version,
    tool, size, sha256, expiry), or list its backups. Writes backup files; never changes the database."""
    report = await call_service(
        service.backup, service.BackupRequest(**target_of(ctx, env), action=action), progress=ProgressBridge(ctx)
    )
    return tool_result(ctx, report, backup_text(report))


@tool(title="Restore a backup", annotations=CHANGES_DB)
async def restore(
    ctx: Context,
    plan: Annotated[RestoreReport, Resolve(restore_plan)],
    approval: Annotated[ElicitationResult[Approval], Resolve(restore_approval)],
    env: EnvArg = None,
    backup_id: BackupIdArg = None,
) -> Annotated[CallToolResult, bounded_output(RestoreReport)]:
    """Restore a backup (default: the newest) into the environment, replacing its current contents: every change
    made since the backup is lost. The backup's checksum is verified first, and the human always approves the
    exact backup and target in a dialog; without their yes nothing changes."""
    chosen = plan.backup.id if plan.backup else None
    request = service.RestoreRequest(**target_of(ctx, env), backup_id=chosen, latest=chosen is None)
    cli = cli_command(env, f"restore {chosen or ''}")
    report = await approve_then_call(ctx, service.restore, request, plan, approval, ask=restore_approval, cli=cli)
    return tool_result(ctx, report, report.message)
