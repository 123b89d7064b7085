"""Requests: what every surface sends to the service, one pydantic model per use case (reports.py is the way back).

A field's description is the one text a user reads about it: the CLI prints it as the option's help and the MCP
tools publish it as the argument's description (`described`), so the two can no longer drift apart. This module
imports nothing heavy: the MCP server reads it at start-up, before any tool call loads the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OUTSIDE_WINDOW = "override the maintenance window (human only)"
APPROVED = "set only by a human-facing surface after the human said yes"
APPROVED_PLAN = "when set, the approval holds only for this plan"


class TargetRequest(BaseModel):
    """Which project and database a command works on."""

    # A request's validator is built when the request is first made, not at import: a run makes one of the ~14
    # (`described` reads only the fields, which are known at import).
    model_config = ConfigDict(defer_build=True)

    project_dir: Path = Field(default_factory=Path.cwd, description="project folder (default: current directory)")
    env: str | None = Field(
        None, description="environment from .claude/settings.json (skills.migration-manager.environments)"
    )
    url: str | None = Field(None, description="database URL (instead of an environment)", repr=False)
    migrations_dir: Path | None = Field(None, description="migrations folder (default: migrations/)")
    lock_wait_seconds: float | None = Field(None, description="how long to wait for another run's migration lock")


class CreateRequest(TargetRequest):
    name: str = Field(description="what the migration does, in words: e.g. 'add user phone'")
    format: str = Field(
        "sql",
        description="sql: one file with -- UP / -- DOWN sections; python: up(ctx)/down(ctx) functions, for data "
        "migrations",
    )
    up: str | None = Field(None, description="SQL for the UP section (sql format only)")
    down: str | None = Field(None, description="SQL for the DOWN section (sql format only)")


class AnalyzeRequest(TargetRequest):
    version: str | None = Field(None, description="only this pending migration (default: all pending)")
    strategy: str | None = Field(None, description="as `apply --strategy`: where a file names none")


class ApplyRequest(TargetRequest):
    to_version: str | None = Field(None, description="stop after this version")
    dry_run: bool = Field(False, description="print the exact SQL; change nothing")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)
    allow_out_of_order: bool = Field(False, description="apply pending migrations older than current")
    strategy: str | None = Field(
        None, description="offline | online | shadow | blue-green | auto; a file's `-- strategy:` header wins"
    )


class RollbackRequest(TargetRequest):
    to_version: str | None = Field(None, description="roll back everything newer than VERSION")
    steps: int | None = Field(None, ge=1, description="roll back the last N migrations")
    all: bool = Field(False, description="roll back every applied migration")
    dry_run: bool = Field(False, description="show the plan and SQL; change nothing")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)
    emergency: bool = Field(
        False,
        description="as fast as the database allows: no analysis, no schema validation, no row counts, "
        "no time estimate and NO BACKUP; still locked, recorded and approval-gated",
    )


class ResolveRequest(TargetRequest):
    version: str = Field(description="the dirty (or edited) migration version")
    action: Literal["retry", "mark-applied", "mark-not-applied", "accept-checksum"] = Field(
        description="retry: re-run a dirty migration from the statement that failed; mark-applied / "
        "mark-not-applied: record that a human finished / undid it by hand; accept-checksum: an applied file was "
        "edited on purpose"
    )
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)


class BaselineRequest(TargetRequest):
    version: str = Field(description="record every pending migration up to this version as applied")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)


class TestRequest(TargetRequest):
    __test__ = False  # not a pytest test class
    to_version: str | None = Field(None, description="test pending migrations up to this version")


class CompareRequest(TargetRequest):
    environments: list[str] = Field(default_factory=list, description="environment names (default: all configured)")


class BackupRequest(TargetRequest):
    action: Literal["create", "list", "prune"] = "list"
    all_environments: bool = Field(False, description="list: every environment")
    approved: bool = Field(False, description=f"prune: {APPROVED}")
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=f"prune: {OUTSIDE_WINDOW}")


class RestoreRequest(TargetRequest):
    backup_id: str | None = Field(None, description="from `db-migrate backup list`")
    latest: bool = Field(False, description="the newest backup of the environment")
    into_url: str | None = Field(None, repr=False, description="restore into this empty database instead")
    timestamp: str | None = Field(
        None, description="point in time, e.g. '2026-01-15 09:30:00' (UTC): PostgreSQL with WAL archiving only"
    )
    dry_run: bool = Field(False, description="show what would be restored; change nothing")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)


class CompleteRequest(TargetRequest):
    version: str | None = Field(None, description="the expanded migration to complete (default: every one)")
    dry_run: bool = Field(False, description="show the contract steps; change nothing")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    outside_window: bool = Field(False, description=OUTSIDE_WINDOW)


class SwitchRequest(TargetRequest):
    """Blue-green switch, switch --back and the end of a deployment (strategies/blue_green.py)."""

    back: bool = Field(False, description="return to blue, with the writes made on green")
    approved: bool = Field(False, description=APPROVED)
    approved_plan_id: str | None = Field(None, description=APPROVED_PLAN)
    dry_run: bool = Field(False, description="show what would be switched; change nothing")


def described(model: type[BaseModel], field: str, more: str = "") -> str:
    """The field's description, the help of its CLI option and of its MCP argument (`more`: what only one surface
    adds, e.g. an instruction to the model)."""
    text = model.model_fields[field].description or ""
    return f"{text}{more}" if more else text
