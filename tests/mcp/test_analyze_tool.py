"""The MCP `analyze` tool: the AnalyzeReport as structured output, findings with real counts in the
text summary too, and the database left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_helpers import Dialogs, text_of, write_migration

from dbcheck import execute, query
from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_analyze_returns_findings_with_counts_and_changes_nothing(pg_project: Path, pg_url: str) -> None:
    execute(pg_url, "CREATE TABLE users (id int PRIMARY KEY, email text)")
    execute(pg_url, "INSERT INTO users SELECT g, 'u' || (g % 40) FROM generate_series(1, 50) g")
    write_migration(
        pg_project,
        "1",
        "unique_email",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email)",
        "DROP INDEX users_email",
    )
    async with Client(build_server(pg_project)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("analyze", {"env": "staging"})
    assert tools["analyze"].annotations.read_only_hint is True
    report = result.structured_content
    [migration] = report["migrations"]
    [finding] = [f for f in migration["findings"] if f["rule"] == "unique-duplicates"]
    assert finding["counts"] == {"duplicate_groups": 10, "duplicate_rows": 20, "null_key_rows": 0}
    assert report["needs_approval"] and report["summary"]["danger"] == 1
    assert "danger unique-duplicates" in text_of(result) and " #1: " in text_of(result)  # the terminal's words
    assert query(pg_url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email'") == [(0,)]


async def test_apply_shows_the_dangerous_finding_in_the_approval_dialog(pg_project: Path, pg_url: str) -> None:
    execute(pg_url, "CREATE TABLE users (id int PRIMARY KEY, bio text)")
    execute(pg_url, "INSERT INTO users SELECT g, 'b' FROM generate_series(1, 30) g")
    write_migration(pg_project, "1", "drop_bio", "ALTER TABLE users DROP COLUMN bio", None)
    dialogs = Dialogs("decline")
    async with Client(build_server(pg_project), elicitation_callback=dialogs) as client:
        result = await client.call_tool("apply", {"env": "staging"})
    assert any("drop-column" in shown and "30 non-null values" in shown for shown in dialogs.shown)
    assert "bio" in {
        r[0] for r in query(pg_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")
    }
    assert result.is_error and "declined" in text_of(result) and "Nothing was changed" in text_of(result)
