"""The server as a separate process, as Claude Code (stdio) and HTTP clients run it: a full
create -> validate -> dry_run -> apply -> status -> rollback session on a real PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import TOKEN, Dialogs, http_server, pg_columns, pg_tables, server_command, text_of, wait_listening

from mcp import Client

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def full_session(client: Client, project: Path, pg_url: str, dialogs: Dialogs) -> None:
    created = await client.call_tool("create", {"name": "create accounts", "env": "staging"})
    assert not created.is_error, text_of(created)
    path = Path(created.structured_content["path"])
    assert path.parent == project / "migrations"
    path.write_text(
        "-- UP\nCREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n"
        "ALTER TABLE accounts ADD COLUMN plan text;\n"
        "-- DOWN\nDROP TABLE accounts;\n"
    )

    validated = await client.call_tool("validate", {"env": "staging"})
    assert validated.structured_content["ok"] is True, text_of(validated)

    planned = await client.call_tool("dry_run", {"env": "staging"})
    plan = planned.structured_content
    assert plan["outcome"] == "dry-run" and plan["needs_approval"] is True
    assert "accounts" not in pg_tables(pg_url)

    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    applied = await client.call_tool("apply", {"env": "staging"}, progress_callback=on_progress)
    assert not applied.is_error, text_of(applied)
    assert applied.structured_content["outcome"] == "done"
    assert applied.structured_content["plan_id"] == plan["plan_id"]
    assert plan["plan_id"] in dialogs.shown[-1]
    assert pg_columns(pg_url, "accounts") == {"id", "email", "plan"}
    assert any(m.startswith("ALTER TABLE accounts ADD COLUMN plan") for m in progress)

    status = await client.call_tool("status", {"env": "staging"})
    assert status.structured_content["current_version"] == created.structured_content["version"]
    assert status.structured_content["pending"] == []

    rolled = await client.call_tool("rollback", {"env": "staging"})
    assert not rolled.is_error, text_of(rolled)
    assert "accounts" not in pg_tables(pg_url)
    assert len(dialogs.shown) == 2


async def test_stdio_subprocess_runs_a_full_session_on_postgres(pg_project: Path, pg_url: str) -> None:
    command = server_command(pg_project)
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(pg_project))
    dialogs = Dialogs("accept")
    async with Client(params, elicitation_callback=dialogs) as client:
        await full_session(client, pg_project, pg_url, dialogs)


async def test_http_subprocess_runs_a_full_session_on_postgres(pg_project: Path, pg_url: str) -> None:
    with http_server(pg_project, TOKEN) as (proc, port):
        wait_listening(proc, port)
        dialogs = Dialogs("accept")
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
        async with Client(transport, elicitation_callback=dialogs) as client:
            await full_session(client, pg_project, pg_url, dialogs)


def test_http_rejects_requests_without_the_bearer_token(sqlite_project: Path) -> None:
    with http_server(sqlite_project, TOKEN) as (proc, port):
        wait_listening(proc, port)
        url = f"http://127.0.0.1:{port}/mcp"
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        missing = httpx2.post(url, json=body)
        wrong = httpx2.post(url, json=body, headers={"Authorization": "Bearer not-the-token-at-all"})
        basic = httpx2.post(url, json=body, headers={"Authorization": f"Basic {TOKEN}"})
        right = httpx2.post(
            url,
            json=body,
            headers={"Authorization": f"bearer {TOKEN}", "Accept": "application/json, text/event-stream"},
        )
    assert missing.status_code == 401 and wrong.status_code == 401 and basic.status_code == 401
    assert right.status_code != 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "tools" not in missing.text


def test_http_refuses_to_start_without_a_token(sqlite_project: Path) -> None:
    with http_server(sqlite_project, None) as (proc, _port):
        code = proc.wait(20)
        err = proc.stderr.read()
    assert code != 0
    assert "Refusing to serve HTTP without a bearer token" in err and "MM_MCP_TOKEN" in err


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on `port`, from the kernel's own table (Linux)."""
    import ipaddress

    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads the Linux socket table")
def test_http_listens_on_loopback_only(sqlite_project: Path) -> None:
    with http_server(sqlite_project, TOKEN) as (proc, port):
        wait_listening(proc, port)
        addresses = listening_addresses(port)
    assert addresses == {"127.0.0.1"}


def test_server_starts_without_loading_database_drivers(sqlite_project: Path) -> None:
    """Fast `initialize`: drivers, parsers and the service layer load on the first tool call, not at startup."""

    probe = (
        "import sys; from migration_manager.surfaces.mcp.server import build_server; build_server(); "
        "heavy = ('psycopg', 'pymysql', 'sqlalchemy', 'sqlglot', 'pglast', 'yaml', 'migration_manager.service'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
