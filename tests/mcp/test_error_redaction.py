"""MCP tool errors say what the CLI says (what happened, state, next step) and never carry the password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_helpers import make_project, text_of, write_migration

from dbcheck import MYSQL_USER_PASSWORD as SECRET
from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio


def everything(result) -> str:
    return text_of(result) + json.dumps(result.structured_content or {})


async def test_wrong_mariadb_password_is_a_tool_error_without_the_password(tmp_path: Path, mysql_user_url: str) -> None:
    wrong = mysql_user_url.replace(SECRET, SECRET + "-wrong")
    project = make_project(tmp_path / "proj", {"dev": {"url": wrong}})
    write_migration(project, "1", "a", "CREATE TABLE a (id integer)", "DROP TABLE a")
    async with Client(build_server(project)) as client:
        results = [await client.call_tool(tool, {"env": "dev"}) for tool in ("status", "apply", "dry_run", "rollback")]
    for result in results:
        assert result.is_error
        text = text_of(result)
        assert SECRET not in text and "Traceback" not in text
        assert "Access denied" in text and "Database state:" in text and "Next step:" in text
        assert ":***@127.0.0.1:3306" in text


async def test_a_failed_migration_report_carries_no_password(tmp_path: Path, mysql_user_url: str) -> None:
    project = make_project(tmp_path / "proj", {"dev": {"url": mysql_user_url}})
    (project / ".claude" / "settings.json").write_text(
        json.dumps(
            {"skills": {"migration-manager": {"autoBackup": False, "environments": {"dev": {"url": mysql_user_url}}}}}
        )
    )
    write_migration(project, "1", "broken", "CREATE TABLE a (id integer);\nINSERT INTO missing_table VALUES (1)", None)
    async with Client(build_server(project)) as client:
        applied = await client.call_tool("apply", {"env": "dev"})
        status = await client.call_tool("status", {"env": "dev"})
    assert SECRET not in everything(applied) and SECRET not in everything(status)
    assert "missing_table" in everything(applied)
