"""The backup and restore tools: backups are taken and listed; a restore happens only after the human
approved the exact backup and target in a dialog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp_helpers import Dialogs, sqlite_tables, text_of

from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio


async def _backed_up_then_changed(client: Client, tmp_path: Path) -> dict:
    await client.call_tool("apply", {"env": "dev", "to_version": "20240101000000"})
    created = await client.call_tool("backup", {"env": "dev", "action": "create"})
    assert not created.is_error, text_of(created)
    with sqlite3.connect(tmp_path / "dev.db") as db:
        db.execute("CREATE TABLE after_backup (id integer)")
    return created.structured_content["backups"][0]


async def test_backup_create_and_list(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        taken = await _backed_up_then_changed(client, tmp_path)
        listed = await client.call_tool("backup", {"env": "dev"})
    assert taken["environment"] == "dev" and taken["version_before"] == "20240101000000"
    assert taken["dialect"] == "sqlite" and len(taken["sha256"]) == 64
    listed_ids = [(m["id"], m["reason"]) for m in listed.structured_content["backups"]]
    assert len(listed_ids) == 2 and listed_ids[0][1] == "apply" and listed_ids[1] == (taken["id"], "manual")
    assert taken["id"] in text_of(listed)


async def test_approved_restore_puts_the_backup_back(sqlite_project: Path, tmp_path: Path) -> None:
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        taken = await _backed_up_then_changed(client, tmp_path)
        result = await client.call_tool("restore", {"env": "dev"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["outcome"] == "done"
    assert result.structured_content["backup"]["id"] == taken["id"]
    assert len(dialogs.shown) == 1 and taken["id"] in dialogs.shown[0] and "is lost" in dialogs.shown[0]
    assert "after_backup" not in sqlite_tables(tmp_path / "dev.db")
    assert "users" in sqlite_tables(tmp_path / "dev.db")


async def test_declined_restore_changes_nothing(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("decline")) as client:
        await _backed_up_then_changed(client, tmp_path)
        result = await client.call_tool("restore", {"env": "dev"})
    assert result.is_error and "Nothing was changed" in text_of(result)
    assert "after_backup" in sqlite_tables(tmp_path / "dev.db")


async def test_restore_without_dialogs_names_the_cli_command(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        taken = await _backed_up_then_changed(client, tmp_path)
        result = await client.call_tool("restore", {"env": "dev", "backup_id": taken["id"]})
    assert result.is_error
    assert f"db-migrate --env dev restore {taken['id']}" in text_of(result)
    assert "after_backup" in sqlite_tables(tmp_path / "dev.db")


async def test_restore_refuses_a_backup_id_that_is_not_one(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("accept")) as client:
        result = await client.call_tool("restore", {"env": "dev", "backup_id": "../../etc/passwd"})
    assert result.is_error and "backup_id must be an id" in text_of(result)
