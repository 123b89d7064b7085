"""MCP surface plumbing: argument checks, service calls in a worker thread, results, progress.

Every tool goes through `call_service`, so every failure reaches the model the same way: a
MigrationError as the CLI's own explanation, anything else as one redacted line (the traceback
stays in the server log, redacted too).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field, ValidationError

from .errors import MigrationError
from .reports import AnalyzeReport, RollbackPlan, RunReport, StatusReport, TestReport, ValidateReport
from .urls import redact

log = logging.getLogger("migration_manager.mcp")
T = TypeVar("T")

ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIGRATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,99}$")

EnvArg = Annotated[
    str | None,
    Field(
        description="Environment NAME from the project's configuration (e.g. 'dev', 'staging', 'production'). "
        "Never a URL. Omit it for the default (development) environment."
    ),
]
ToVersionArg = Annotated[
    str | None,
    Field(description="Stop at this migration version (e.g. '20240116093000'); omit for all pending ones."),
]


# ---- arguments and service calls ---------------------------------------------------------
def env_name(env: str | None) -> str | None:
    if env is None or env == "":
        return None
    if not ENV_NAME.match(env):
        raise ToolError(
            f"'{redact(env)[:80]}' is not an environment name. Tools take the NAME of an environment configured "
            "under skills.migration-manager.environments (read the migrations://config resource for the list), "
            "never a database URL or a path."
        )
    return env


def version_arg(value: str | None, what: str = "to_version") -> str | None:
    if value is None or value == "":
        return None
    if not VERSION.match(value):
        raise ToolError(f"{what} must be a migration version like 20240116093000 (see the status tool).")
    return value


async def call_service(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call in a worker thread; turn its errors into tool errors the model can act on."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except MigrationError as exc:
        raise ToolError(redact(exc.explain())) from None
    except ValidationError as exc:  # a request the service's models reject: name the fields, never echo values
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        raise ToolError(f"Invalid argument(s): {fields}.") from None
    except Exception as exc:  # noqa: BLE001 - a crash: log it here (redacted), tell the model without a traceback
        log.error("unexpected error in %s:\n%s", getattr(fn, "__name__", fn), redact(traceback.format_exc()))
        raise ToolError(
            f"Unexpected internal error ({type(exc).__name__}: {redact(str(exc))[:300]}). "
            "The server log has the details; the CLI with --debug shows the same run."
        ) from None


def tool_result(report: BaseModel, summary: str) -> CallToolResult:
    data = report.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=summary), TextContent(type="text", text=json.dumps(data, indent=1))],
        structured_content=data,
    )


def progress_bridge(ctx: Context) -> Callable[[Any], None]:
    """The service reports progress from its worker thread; forward each event as an MCP progress notification."""

    def forward(event: Any) -> None:
        total = float(max(event.migration_total, 1))
        done = float(max(event.migration_index - 1, 0))
        if event.statement_total:
            done += event.statement_index / event.statement_total
        if event.phase == "done":
            done = total
        try:
            anyio.from_thread.run(ctx.report_progress, done, total, event.message)
        except Exception:  # noqa: BLE001 - a client gone mid-run must not abort the migration
            log.debug("progress notification not delivered", exc_info=True)

    return forward


# ---- project -----------------------------------------------------------------------------
def project_of(ctx: Context) -> Path:
    return ctx.mcp_server.project_dir  # type: ignore[attr-defined]


def target_of(ctx: Context, env: str | None, **extra: Any) -> dict[str, Any]:
    return {"project_dir": project_of(ctx), "env": env_name(env), **extra}


def cli_command(env: str | None, verb: str, *, to: str | None = None, steps: int | None = None,
                emergency: bool = False) -> str:
    """The db-migrate command a human runs in a terminal to do the same thing (and approve it there)."""
    parts = ["db-migrate"] + (["--env", env] if env else []) + [verb]
    parts += (["--to", to] if to else []) + (["--steps", str(steps)] if steps else [])
    parts += ["--emergency"] if emergency else []
    return " ".join(parts)


def service_package() -> Any:
    from . import service

    return service


RollbackTo = Annotated[
    str | None,
    Field(
        description="Roll back every migration newer than this version "
        "('0' = all). Omit to roll back `steps` migrations."
    ),
]
Steps = Annotated[
    int | None, Field(ge=1, le=1000, description="How many migrations to roll back, newest first (default 1).")
]
Emergency = Annotated[
    bool,
    Field(
        description="Set true ONLY when the user explicitly asks for an emergency rollback (production is broken "
        "and every second counts). It skips the analysis, the schema validation, the row counts, the time estimate "
        "and the automatic backup, so nothing can be restored from a pre-rollback backup afterwards. It still takes "
        "the migration lock and records the history, and the human still approves it where the environment "
        "requires approval or the DOWN drops data. Never set it on your own initiative; default false."
    ),
]
ResolveAction = Annotated[
    Literal["retry", "mark-applied", "mark-not-applied", "accept-checksum"],
    Field(
        description="retry: re-run a dirty migration from the statement that failed; mark-applied / mark-not-applied: "
        "record that a human finished / undid it by hand; accept-checksum: an applied file was edited on purpose."
    ),
]


# ---- summaries (the short text beside the structured report) -----------------------------
def status_text(r: StatusReport) -> str:
    head = (
        f"{r.environment} ({r.database}, {r.server_version}): version {r.current_version or '(none)'}, "
        f"{len(r.applied)} applied, {len(r.pending)} pending" + (", DIRTY" if r.dirty else "")
    )
    lines = [head] + [f"  pending: {m.version}_{m.name}" for m in r.pending[:20]]
    lines += [f"  problem: {p}" for p in r.problems]
    if r.dirty_detail:
        lines.append(r.dirty_detail)
    return "\n".join(lines + [f"Next: {r.next_action}"])


def validate_text(r: ValidateReport) -> str:
    lines = [f"{r.environment}: {'OK' if r.ok else 'PROBLEMS FOUND'}"]
    lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in r.checks]
    lines += [f"  finding: {f.severity} {f.rule}: {f.message}" for f in r.findings]
    return "\n".join(lines)


def analyze_text(r: AnalyzeReport) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in r.summary.items() if n) or "no findings"
    lines = [f"{r.environment} ({r.server_version}): {len(r.migrations)} pending migration(s) analyzed, {counts}"]
    for m in r.migrations:
        lines.append(f"  {m.version}_{m.name} [{m.mode}], {len(m.statements)} statement(s)")
        lines += [f"    {f.severity} {f.rule} (statement {f.statement_index}): {f.message}" for f in m.findings]
    lines += [f"  approval needed: {reason}" for reason in r.approval_reasons]
    return "\n".join(lines + [f"Next: {r.next_action}"])


def rollback_plan_lines(p: RollbackPlan) -> list[str]:
    """The rollback plan in plain lines: the approval dialog and the tool's text summary show it."""
    lines = ["Rollback plan" + (" (EMERGENCY)" if p.emergency else "") + ":"]
    for step in p.steps:
        took = "" if step.estimated_seconds is None else f", estimated {step.estimated_seconds:,.2f} s"
        lines.append(f"  {step.version}_{step.name}: can roll back: {'yes' if step.can_roll_back else 'no'} "
                     f"({step.why}){took}")
        lines += [f"    - {loss.text}" for loss in step.destroys]
    b = p.backup
    scope = "the whole database" if b.scope == "whole" else ", ".join(b.tables) if b.tables else "scope unknown"
    size = f", ~{b.estimated_bytes:,} bytes on disk" if b.estimated_bytes is not None else ""
    lines.append(f"  backup first: yes ({scope}{size})" if b.will_back_up else f"  backup first: no ({b.why})")
    if p.estimated_seconds is not None:
        lines.append(f"  estimated time: {p.estimated_seconds:,.2f} s in total ({p.estimate_note})")
    return lines + [f"  note: {n}" for n in p.notes]


def run_text(r: RunReport, approved_plan: str | None = None) -> str:
    lines = [
        f"{r.action} on {r.environment}: {r.outcome} (plan {r.plan_id}); "
        f"version {r.version_before or '(none)'} -> {r.version_after or '(none)'}"
    ]
    lines += [
        f"  {m.version}_{m.name} [{m.direction}] {m.status}" + (f": {m.error}" if m.error else "") for m in r.migrations
    ]
    if r.rollback_plan and r.outcome in ("dry-run", "needs-approval", "failed"):
        lines += rollback_plan_lines(r.rollback_plan)
    label = "approved" if r.outcome in ("done", "failed") else "approval needed"
    lines += [f"  {label}: {reason}" for reason in r.approval_reasons]
    if approved_plan and r.outcome == "needs-approval":
        lines.append(
            f"The plan changed after the human approved plan {approved_plan}: nothing ran. "
            "Call the tool again to show the new plan."
        )
    return "\n".join(lines + ([r.message] if r.message else []))


def test_text(r: TestReport) -> str:
    lines = [f"test on a copy of {r.environment}: {r.outcome.upper()} in {r.total_ms / 1000:.2f}s"
             + (f" ({r.copy_method})" if r.copy_method else "")]
    lines += [f"  [{'ok' if s.ok else 'FAIL'}] {s.name}: {s.duration_ms / 1000:.3f}s {s.detail[:120]}" for s in r.steps]
    lines += [f"  {m.version}_{m.name}: apply {m.apply_ms}ms, rollback {m.rollback_ms}ms" for m in r.migrations]
    lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in r.checks]
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines + [r.message])
