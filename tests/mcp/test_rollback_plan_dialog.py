"""The MCP rollback tool: the approval dialog shows the rollback plan (verdicts, counted losses, backup,
estimate), and a rollback that cannot run is refused with its plan and no dialog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp_helpers import Dialogs, sqlite_tables, text_of, write_migration

from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio


async def test_rollback_dialog_shows_the_plan_with_counts(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "prod"})
    with sqlite3.connect(tmp_path / "prod.db") as db:
        db.executemany(
            "INSERT INTO users (id, email, phone) VALUES (?, ?, ?)",
            [(1, "a@x", "555"), (2, "b@x", "556"), (3, "c@x", None)],
        )
    dialogs = Dialogs("decline")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        result = await client.call_tool("rollback", {"env": "prod", "steps": 2})
    assert result.is_error and "Nothing was changed" in text_of(result)
    shown = dialogs.shown[0]
    for line in (
        "Rollback plan\n",  # the terminal's wording: one presenter for both surfaces
        "20240102000000_add_phone  can roll back: yes (DOWN from its file)",
        "drops column users.phone (2 non-null values) — archived first into _mm_archive_20240102000000_",
        "drops table users (3 rows)",
        "Backup first: yes",
        "Estimated time:",
    ):
        assert line in shown, (line, shown)
    assert "phone" in [c[1] for c in sqlite3.connect(tmp_path / "prod.db").execute("PRAGMA table_info(users)")]


async def test_rollback_without_down_is_refused_with_its_plan_and_no_dialog(
    sqlite_project: Path, tmp_path: Path
) -> None:
    write_migration(sqlite_project, "20240103000000", "audit", "CREATE TABLE audit (id integer)", None)
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        await client.call_tool("apply", {"env": "prod"})
        asked = len(dialogs.shown)
        result = await client.call_tool("rollback", {"env": "prod"})
    report = result.structured_content
    assert report["outcome"] == "failed" and report["error"]["error"] == "rollback_unavailable"
    assert report["rollback_plan"]["steps"][0]["can_roll_back"] is False
    assert "20240103000000_audit has no DOWN script" in text_of(result)
    assert len(dialogs.shown) == asked  # nothing to approve: the plan cannot run
    assert "audit" in sqlite_tables(tmp_path / "prod.db")


async def test_emergency_rollback_tool_still_asks_and_says_no_backup(sqlite_project: Path, tmp_path: Path) -> None:
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        await client.call_tool("apply", {"env": "prod"})
        asked = len(dialogs.shown)
        result = await client.call_tool("rollback", {"env": "prod", "emergency": True})
    assert not result.is_error, text_of(result)
    report = result.structured_content
    assert report["outcome"] == "done" and report["backup_id"] is None and report["findings"] == []
    assert report["rollback_plan"]["emergency"] is True
    shown = dialogs.shown[asked]  # the human approved the emergency plan, shown as such
    for line in (
        "Rollback plan (EMERGENCY)",
        "Backup first: no (no backup: --emergency",
        "drops column users.phone (non-null values not counted: --emergency)",
        "requireApproval",
    ):
        assert line in shown, (line, shown)
    assert "phone" not in [c[1] for c in sqlite3.connect(tmp_path / "prod.db").execute("PRAGMA table_info(users)")]


async def test_rollback_plan_tool_previews_and_changes_nothing(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "dev"})
        with sqlite3.connect(tmp_path / "dev.db") as db:
            db.execute("INSERT INTO users (id, email, phone) VALUES (1, 'a@x', '555')")
        preview = await client.call_tool("rollback_plan", {"env": "dev", "to_version": "0"})
        tables_after_preview = sqlite_tables(tmp_path / "dev.db")
        done = await client.call_tool(
            "rollback", {"env": "dev", "to_version": "0", "plan_id": preview.structured_content["plan_id"]}
        )
    assert not preview.is_error and preview.structured_content["outcome"] == "dry-run"
    for line in ("Rollback plan", "drops table users (1 rows)", "20240101000000_create_users  can roll back: yes"):
        assert line in text_of(preview), line
    assert "users" in tables_after_preview  # the preview ran nothing
    assert not done.is_error and "users" not in sqlite_tables(tmp_path / "dev.db")


async def test_rollback_refuses_when_the_plan_changed_since_the_preview(sqlite_project: Path, tmp_path: Path) -> None:
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        await client.call_tool("apply", {"env": "prod"})
        preview = await client.call_tool("rollback_plan", {"env": "prod", "steps": 1})
        result = await client.call_tool(
            "rollback", {"env": "prod", "steps": 2, "plan_id": preview.structured_content["plan_id"]}
        )
    assert result.is_error and "The rollback plan changed since plan" in text_of(result)
    assert len(dialogs.shown) == 1  # the apply's; the human was not asked about a plan nobody saw
    assert "phone" in [c[1] for c in sqlite3.connect(tmp_path / "prod.db").execute("PRAGMA table_info(users)")]
