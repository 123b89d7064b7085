"""The service layer: one function per use case. Surfaces (CLI, MCP) call these and nothing below.

Requests and reports are pydantic models; nothing here prints or prompts.
"""

from ..reports import RunReport
from .analyze import AnalyzeRequest, analyze
from .backups import BackupRequest, RestoreRequest, backup, restore
from .compare import CompareRequest, compare
from .context import Progress, ProgressEvent, TargetRequest
from .migrate import ApplyRequest, RollbackRequest, rollback
from .project_state import CreateRequest, create, history, status, validate
from .rehearsal import TestReport, TestRequest, test
from .resolve import BaselineRequest, ResolveRequest, baseline, resolve


def apply(request: ApplyRequest, progress: Progress | None = None) -> RunReport:
    """apply, as every surface asks for it. An offline or blue-green apply drives its deployment
    (strategies/deployment.py): blue-green migrates a replicated green copy, never blue itself, and its dry run is
    what green would get; offline stops and starts the application around it. Every other apply runs directly."""
    from ..strategies.deployment import apply_as_run

    return apply_as_run(request, progress)


__all__ = [
    "AnalyzeRequest",
    "analyze",
    "ApplyRequest",
    "BaselineRequest",
    "baseline",
    "CompareRequest",
    "CreateRequest",
    "ProgressEvent",
    "ResolveRequest",
    "RollbackRequest",
    "TargetRequest",
    "TestReport",
    "TestRequest",
    "apply",
    "compare",
    "create",
    "history",
    "resolve",
    "rollback",
    "status",
    "test",
    "validate",
]
__all__ += ["BackupRequest", "RestoreRequest", "backup", "restore"]

from .strategy_runs import CompleteRequest, complete  # noqa: E402 - the online strategies' contract phase

__all__ += ["CompleteRequest", "complete"]
