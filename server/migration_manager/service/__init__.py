"""The service layer: one function per use case. Surfaces (CLI, MCP) call these and nothing below.

Requests and reports are pydantic models; nothing here prints or prompts.
"""

from .analyze import AnalyzeRequest, analyze
from .backups import BackupRequest, RestoreRequest, backup, restore
from .compare import CompareRequest, compare
from .context import ProgressEvent, TargetRequest
from .migrate import ApplyRequest, RollbackRequest, apply, rollback
from .project_state import CreateRequest, create, history, status, validate
from .rehearsal import TestReport, TestRequest, test
from .resolve import BaselineRequest, ResolveRequest, baseline, resolve

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
