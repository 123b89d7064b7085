"""The online strategy through the surfaces: `db-migrate apply --strategy online`, status, `complete`; and the MCP
`apply` (strategy) and `complete` tools, each approved by the human in a dialog on a requireApproval environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from dbcheck import DB_MIGRATE, clean_env, execute, history, make_project, query, write_native
from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

ADD_PHONE = "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'none'"


def _users(url: str) -> None:
    execute(url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(url, "INSERT INTO users (id, name) VALUES " + ", ".join(f"({i}, 'u{i}')" for i in range(500)))


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DB_MIGRATE, "--env", "dev", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=clean_env(None),
        timeout=120,
    )


def _not_null(url: str) -> bool:
    sql = "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'phone'"
    return query(url, sql) == [(True,)]


def test_cli_apply_with_strategy_then_status_then_complete(pg_url: str, tmp_path: Path) -> None:
    _users(pg_url)
    project = make_project(tmp_path / "proj", pg_url, autoBackup=False)
    write_native(project, "1", "phone", ADD_PHONE, "ALTER TABLE users DROP COLUMN phone")
    plan = _cli(project, "apply", "--strategy", "online", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "expand/contract" in plan.stdout and "db-migrate complete 1" in plan.stdout
    done = _cli(project, "apply", "--strategy", "online", "--json", "--yes")
    assert json.loads(done.stdout)["outcome"] == "done", done.stdout + done.stderr
    status = _cli(project, "status")
    assert "EXPANDED, waiting for complete" in status.stdout and "never set it to NULL" in status.stdout
    assert json.loads(_cli(project, "status", "--json").stdout)["waiting_for_complete"][0]["version"] == "1"
    completed = _cli(project, "complete", "--yes", "--json")
    assert json.loads(completed.stdout)["outcome"] == "done", completed.stdout + completed.stderr
    assert history(pg_url)["1"][0] == "applied" and _not_null(pg_url)
    assert json.loads(_cli(project, "complete", "--json").stdout)["outcome"] == "nothing-to-do"


class Dialogs:
    def __init__(self) -> None:
        self.shown: list[str] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.shown.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})


@pytest.mark.anyio
async def test_mcp_apply_online_then_complete_each_approved_in_a_dialog(pg_url: str, tmp_path: Path) -> None:
    _users(pg_url)
    project = make_project(tmp_path / "proj", pg_url, autoBackup=False)
    settings = project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    config["skills"]["migration-manager"]["environments"]["dev"]["requireApproval"] = True
    settings.write_text(json.dumps(config))
    write_native(project, "1", "phone", ADD_PHONE, "ALTER TABLE users DROP COLUMN phone")
    dialogs, progress = Dialogs(), []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message or ""))

    async with Client(build_server(project), elicitation_callback=dialogs) as client:
        applied = await client.call_tool("apply", {"env": "dev", "strategy": "online"}, progress_callback=on_progress)
        assert applied.structured_content["outcome"] == "done", applied.structured_content
        status = await client.call_tool("status", {"env": "dev"})
        assert status.structured_content["waiting_for_complete"][0]["version"] == "1"
        completed = await client.call_tool("complete", {"env": "dev", "version": "1"})
        assert completed.structured_content["outcome"] == "done", completed.structured_content
    values = [value for value, _ in progress]
    assert values == sorted(values)  # an MCP progress only grows: the backfill's rows, then the next step
    assert any(message.startswith("backfill users.") for _, message in progress)
    assert len(dialogs.shown) == 2 and dialogs.shown[1].startswith("Complete (contract phase) 1 migration")
    assert history(pg_url)["1"][0] == "applied" and _not_null(pg_url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
