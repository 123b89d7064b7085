"""MCP server: every migration-manager use case as an MCP tool, plus resources and prompts.

Wiring only: each tool checks its arguments, calls one service function in a worker thread
and returns the service's pydantic report as structured output (with a short summary and the
JSON as text, for clients that read text only). Safety lives in the service; this layer adds
exactly one thing, the human in the loop: an apply or rollback the service says needs
approval is shown to the human through MCP elicitation, bound to the plan id they saw.
There is no argument a model can set to approve.

A service call runs in a worker thread that a client's cancel never abandons: the cancel asks the
runner to stop at its next safe point (calls.ProgressBridge), so a migration is never cut half-way.
Results are bounded in size, with the full report as a resource (results.py).

This module only wires: `build_server` makes the server with its state (the project folder and the kept
reports) as the typed lifespan context, and registers the module-level tools that `@tool(...)` recorded
(tools.py, backup_tools.py, blue_green_tools.py, strategy_tools.py; see tools.py for adding one), the resources
and the prompts.

Run: `migration-manager-mcp` (stdio, for Claude Code / .mcp.json) or
`MM_MCP_TOKEN=... migration-manager-mcp --transport http --port 8765` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import hmac
import inspect
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from ... import __version__
from . import backup_tools, blue_green_tools, strategy_tools, tools  # noqa: F401 - importing them records their tools
from .calls import TOOLS
from .prompts import register_prompts
from .resources import register_completions, register_resources
from .results import (
    ServerState,
)

TOKEN_VAR = "MM_MCP_TOKEN"
PROJECT_VAR = "MM_PROJECT_DIR"

# ---- server ------------------------------------------------------------------------------
INSTRUCTIONS = """migration-manager: safe database schema migrations.
Workflow: status -> validate -> analyze -> dry_run -> apply; to undo: rollback_plan (show it) -> rollback with its
plan_id; compare across environments. Long results are cut to fit; the full report is a migrations://reports resource.
Tools take environment NAMES from the project's configuration (read migrations://config), never URLs.
apply and rollback ask the human for approval when the environment or the plan requires it; you cannot approve.
"""


def _default_project() -> Path:
    # Claude Code starts project servers in the project and sets CLAUDE_PROJECT_DIR for them too.
    return Path(os.environ.get(PROJECT_VAR) or os.environ.get("CLAUDE_PROJECT_DIR") or Path.cwd())


def _serving(state: ServerState) -> Callable[[MCPServer], AbstractAsyncContextManager[ServerState]]:
    """The lifespan: every request's context carries the server's state (ctx.request_context.lifespan_context)."""

    @asynccontextmanager
    async def serving(_: MCPServer) -> AsyncIterator[ServerState]:
        yield state

    return serving


class MigrationServer(MCPServer):
    """MCPServer whose tools refuse unknown arguments (a misspelt `to_version` must not apply everything), explain
    invalid ones in one line, and describe themselves without the docstrings' indentation."""

    state: ServerState

    def tool(self, *args: Any, **kwargs: Any) -> Any:
        register = super().tool(*args, **kwargs)

        def tidy(fn: Any) -> Any:
            fn.__doc__ = inspect.cleandoc(fn.__doc__ or "")
            registered = register(fn)
            self._tool_manager.get_tool(kwargs.get("name") or fn.__name__).parameters["additionalProperties"] = False
            return registered

        return tidy

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        known = set(tool.parameters.get("properties", {})) if tool else set()
        unknown = sorted(set(arguments) - known) if tool else []
        if unknown:
            raise ToolError(
                f"Unknown argument(s) for {name}: {', '.join(unknown)}. Nothing was run. {name} takes: "
                f"{', '.join(sorted(known)) or 'no arguments'}."
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.__cause__.errors())
            raise ToolError(
                f"Invalid argument for {name} ({problems}). Nothing was run; call it again with a valid value."
            ) from None


def build_server(project_dir: Path | None = None) -> MigrationServer:
    """Wiring only: the server, its state as the lifespan context, the recorded tools, resources and prompts."""
    state = ServerState((project_dir or _default_project()).resolve())
    server = MigrationServer(
        "migration-manager",
        title="Migration manager",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        lifespan=_serving(state),
    )
    server.state = state  # static resources and completions are called without a context: they read it here
    for fn, options in TOOLS:
        server.tool(**options)(fn)
    register_resources(server, state)
    register_prompts(server)
    register_completions(server, state)
    return server


# ---- transports --------------------------------------------------------------------------
class BearerGate:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(dict(scope.get("headers") or [])):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="migration-manager"'),
                    ],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"error": "unauthorized", "message": "Send Authorization: Bearer <MM_MCP_TOKEN>."}',
                }
            )
            return
        await self.app(scope, receive, send)  # lifespan and authorized requests

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)


def http_app(server: MCPServer, token: str) -> BearerGate:
    return BearerGate(server.streamable_http_app(host="127.0.0.1"), token)


def serve_http(server: MCPServer, port: int, token: str | None) -> None:
    if not token or len(token) < 16:
        raise SystemExit(
            f"Refusing to serve HTTP without a bearer token: set {TOKEN_VAR} to a secret of at "
            "least 16 characters (clients send it as 'Authorization: Bearer <token>')."
        )
    import uvicorn

    config = uvicorn.Config(http_app(server, token), host="127.0.0.1", port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="migration-manager-mcp", description="migration-manager MCP server")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port on 127.0.0.1 (http transport)")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help=f"project folder (default: ${PROJECT_VAR}, else $CLAUDE_PROJECT_DIR, else the current directory)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout belongs to the protocol on stdio
    server = build_server(args.project_dir)
    if args.transport == "http":
        serve_http(server, args.port, os.environ.get(TOKEN_VAR))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
