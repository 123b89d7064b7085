"""MCP surface plumbing: argument checks, service calls in a worker thread, results, progress.

Every tool goes through `call_service`, so every failure reaches the model the same way: a
MigrationError as the CLI's own explanation, anything else as one redacted line (the traceback
stays in the server log, redacted too).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import traceback
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from ...errors import MigrationError
from ...requests import ApplyRequest, ResolveRequest, RollbackRequest, TargetRequest, described
from ...urls import redact
from .results import report_store, state_of, tool_words

log = logging.getLogger("migration_manager.mcp")
T = TypeVar("T")

ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def is_migration_name(name: str) -> bool:
    """Words of letters, marks and digits of any script, spaces, '_' or '-' (create keeps Unicode names)."""
    return (
        0 < len(name) <= 100
        and name[0].isalnum()
        and all(c in " _-" or unicodedata.category(c)[0] in "LMN" for c in name)
    )


EnvArg = Annotated[
    str | None,
    Field(
        description=described(
            TargetRequest,
            "env",
            ": its NAME (e.g. 'dev', 'staging', 'production'), never a URL; omit it for the default (development) "
            "environment.",
        )
    ),
]
ToVersionArg = Annotated[
    str | None,
    Field(description=described(ApplyRequest, "to_version", " (e.g. '20240116093000'); omit for all pending ones.")),
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


async def call_service(fn: Callable[..., T], *args: Any, progress: ProgressBridge | None = None, **kwargs: Any) -> T:
    """Run a blocking service call in a worker thread; turn its errors into tool errors the model can act on.

    With `progress`, the call reports progress and can be cancelled: the worker is never abandoned (a
    migration is not cut half-way), but a cancelled request asks it to stop at its next safe point."""
    call = functools.partial(fn, *args, **kwargs, **({"progress": progress} if progress else {}))
    try:
        if progress is None:
            return await anyio.to_thread.run_sync(call)
        return await progress.run(call)
    except MigrationError as exc:
        raise ToolError(tool_words(redact(exc.explain()))) from None
    except ValidationError as exc:  # a request the service's models reject: name the fields, never echo values
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        raise ToolError(f"Invalid argument(s): {fields}.") from None
    except Exception as exc:  # noqa: BLE001 - a crash: log it here (redacted), tell the model without a traceback
        log.error("unexpected error in %s:\n%s", getattr(fn, "__name__", fn), redact(traceback.format_exc()))
        raise ToolError(
            f"Unexpected internal error ({type(exc).__name__}: {redact(str(exc))[:300]}). "
            "The server log has the details; the CLI with --debug shows the same run."
        ) from None


class ProgressBridge:
    """The service's progress callback for one tool call: forwards each event (from the worker thread) as an MCP
    progress notification, and carries the request's cancellation to the runner, which asks `cancelled()` where
    stopping leaves no half-done migration (before a migration, between the statements of one transaction)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.stop = threading.Event()
        self.result: Any = None  # what the call returned, kept when the client no longer waits for it
        self.sent = 0.0  # the progress last sent: it may only grow (a backfill's rows, then the next step's index)

    def cancelled(self) -> bool:
        return self.stop.is_set()

    async def run(self, call: Callable[[], T]) -> T:
        failure: Exception | None = None
        finished = anyio.Event()
        try:
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(self._watch_cancel, finished)
                with anyio.CancelScope(shield=True):  # a cancel reaches the worker as `stop`, never as an abandon
                    try:
                        self.result = await anyio.to_thread.run_sync(call)
                    except Exception as exc:  # noqa: BLE001 - raised below, outside the task group
                        failure = exc
                finished.set()
        finally:
            if self.cancelled():
                self._keep_for_later(failure)
        if self.cancelled():
            await anyio.lowlevel.checkpoint()  # delivers the request's cancellation: nobody reads an answer
        if failure is not None:
            raise failure
        return self.result

    async def _watch_cancel(self, finished: anyio.Event) -> None:
        try:
            await finished.wait()
        except anyio.get_cancelled_exc_class():
            self.stop.set()  # the request was cancelled while the worker runs
            raise

    def _keep_for_later(self, failure: Exception | None) -> None:
        """The client cancelled and will not read the answer: keep the report as a resource and log where it is."""
        if isinstance(self.result, BaseModel):
            data = self.result.model_dump(mode="json")
            uri = report_store(self.ctx).keep(f"cancelled by the client: {data.get('message', '')}"[:300], data)
            log.warning("a cancelled request stopped early: %s (full report: %s)", redact(data.get("message", "")), uri)
        elif failure is not None:
            log.warning("a cancelled request failed: %s", redact(str(failure)))

    def __call__(self, event: Any) -> None:
        if event.phase == "check":
            return  # the checks before a run count their own steps: the run's progress would then go backwards
        total = float(max(event.migration_total, 1))
        done = float(max(event.migration_index - 1, 0))
        if event.statement_total:
            done += event.statement_index / event.statement_total
        if event.phase == "done":
            done = total
        done = self.sent = max(done, self.sent)
        if self.cancelled():
            return  # nobody listens any more
        try:
            anyio.from_thread.run(self.ctx.report_progress, done, total, event.message)
        except Exception:
            log.debug("progress notification not delivered", exc_info=True)


# ---- project -----------------------------------------------------------------------------
def project_of(ctx: Context) -> Path:
    return state_of(ctx).project_dir


def target_of(ctx: Context, env: str | None, **extra: Any) -> dict[str, Any]:
    return {"project_dir": project_of(ctx), "env": env_name(env), **extra}


def cli_command(
    env: str | None, verb: str, *, to: str | None = None, steps: int | None = None, emergency: bool = False
) -> str:
    """The db-migrate command a human runs in a terminal to do the same thing (and approve it there)."""
    parts = ["db-migrate"] + (["--env", env] if env else []) + [verb]
    parts += (["--to", to] if to else []) + (["--steps", str(steps)] if steps else [])
    parts += ["--emergency"] if emergency else []
    return " ".join(parts)


def service_package() -> Any:
    from ... import service

    return service


class _LazyService:
    """The service package, imported on the first tool call: `initialize` is answered before it loads."""

    def __getattr__(self, name: str) -> Any:
        return getattr(service_package(), name)


service = _LazyService()


# ---- tools: recorded where they are written, registered by server.build_server ----------------
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITES_FILE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
CHANGES_DB = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=False)
# Creates a scratch copy beside the environment's database and drops it again: the environment is only read.
SCRATCH_COPY = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
TOOLS: list[tuple[Callable[..., Any], dict[str, Any]]] = []


def tool(**options: Any) -> Callable[[T], T]:
    """Record a module-level tool function with its MCPServer.tool options (title, annotations, name)."""

    def record(fn: T) -> T:
        TOOLS.append((fn, options))
        return fn

    return record


RollbackTo = Annotated[
    str | None,
    Field(description=described(RollbackRequest, "to_version", " ('0' = all); omit to roll back `steps` migrations.")),
]
Steps = Annotated[
    int | None, Field(ge=1, le=1000, description=described(RollbackRequest, "steps", ", newest first (default 1)."))
]
Emergency = Annotated[
    bool,
    Field(
        description=described(
            RollbackRequest,
            "emergency",
            ". Set true ONLY when the user explicitly asks for an emergency rollback (production is broken and every "
            "second counts): with no backup, nothing can be restored from a pre-rollback backup afterwards, and the "
            "human still approves it where the environment requires approval or the DOWN drops data. Never set it on "
            "your own initiative; default false.",
        )
    ),
]
ResolveAction = Annotated[
    Literal["retry", "mark-applied", "mark-not-applied", "accept-checksum"],
    Field(description=described(ResolveRequest, "action")),
]
