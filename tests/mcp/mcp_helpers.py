"""Helpers for driving the MCP server as clients do: project folders, migration files, answers to
approval dialogs, and reading the real database afterwards."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"
REQUIRE = os.environ.get("MM_REQUIRE_SERVICES") == "1"
TOKEN = "test-token-0123456789abcdef"

CREATE_USERS = ("CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL)", "DROP TABLE users")
ADD_PHONE = ("ALTER TABLE users ADD COLUMN phone varchar(20)", "ALTER TABLE users DROP COLUMN phone")


def make_project(root: Path, environments: dict[str, dict[str, Any]]) -> Path:
    """A project folder whose .claude/settings.json configures the given environments."""
    (root / ".claude").mkdir(parents=True, exist_ok=True)
    settings = {"skills": {"migration-manager": {"environments": environments}}}
    (root / ".claude" / "settings.json").write_text(json.dumps(settings, indent=2))
    (root / "migrations").mkdir(exist_ok=True)
    return root


def write_migration(project: Path, version: str, name: str, up: str, down: str | None) -> Path:
    text = f"-- UP\n{up};\n" + (f"-- DOWN\n{down};\n" if down is not None else "")
    path = project / "migrations" / f"{version}_{name}.sql"
    path.write_text(text)
    return path


class Dialogs:
    """Answers approval dialogs (MCP elicitation) like a human would, and remembers what was shown."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content if content is not None else {"approve": True}
        self.shown: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.shown.append(params.message)
        if self.action != "accept":
            return types.ElicitResult(action=self.action)
        return types.ElicitResult(action="accept", content=self.content)


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def sqlite_tables(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def pg_tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as db:
        return {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def pg_columns(url: str, table: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as db:
        return {
            r[0]
            for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table])
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_tool(name: str) -> Path:
    """A CLI from the project's node_modules; skip (or fail under MM_REQUIRE_SERVICES=1) when absent."""
    path = NODE_BIN / name
    if not path.exists() or shutil.which("node") is None:
        message = f"{path} is not installed (run `npm ci` or `make test`)"
        if REQUIRE:
            pytest.fail(message + " (MM_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return path


def server_command(project: Path) -> list[str]:
    return [sys.executable, "-m", "migration_manager.surfaces.mcp", "--project-dir", str(project)]


@contextmanager
def http_server(project: Path, token: str | None) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MM_MCP_TOKEN"}
    if token is not None:
        env["MM_MCP_TOKEN"] = token
    proc = subprocess.Popen(
        [*server_command(project), "--transport", "http", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_listening(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            httpx2.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise AssertionError("HTTP server did not start")
