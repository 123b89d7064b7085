"""Approvals: the human decides through MCP elicitation; the model has no way to approve.

Each case runs over both protocol generations the SDK speaks: the handshake era (a mid-call
elicitation request) and 2026-07-28 (an input-required round trip).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC
from pathlib import Path

import pytest
from mcp_helpers import Dialogs, sqlite_tables, text_of

from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", ["legacy", "auto"])]


async def test_accepted_approval_applies_exactly_the_plan_shown(
    sqlite_project: Path, tmp_path: Path, mode: str
) -> None:
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=dialogs) as client:
        plan = await client.call_tool("dry_run", {"env": "prod"})
        result = await client.call_tool("apply", {"env": "prod"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["outcome"] == "done"
    assert result.structured_content["plan_id"] == plan.structured_content["plan_id"]
    assert len(dialogs.shown) == 1
    shown = dialogs.shown[0]
    assert plan.structured_content["plan_id"] in shown
    assert "CREATE TABLE users" in shown and "requireApproval" in shown
    assert {"users", "schema_migrations"} <= sqlite_tables(tmp_path / "prod.db")


async def test_declined_approval_changes_nothing(sqlite_project: Path, tmp_path: Path, mode: str) -> None:
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=Dialogs("decline")) as client:
        result = await client.call_tool("apply", {"env": "prod"})
    assert result.is_error
    assert "declined" in text_of(result) and "Nothing was changed" in text_of(result)
    assert "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_cancelled_dialog_changes_nothing(sqlite_project: Path, tmp_path: Path, mode: str) -> None:
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=Dialogs("cancel")) as client:
        result = await client.call_tool("apply", {"env": "prod"})
    assert result.is_error and "cancel" in text_of(result)
    assert "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_unticked_approve_box_changes_nothing(sqlite_project: Path, tmp_path: Path, mode: str) -> None:
    dialogs = Dialogs("accept", {"approve": False})
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=dialogs) as client:
        result = await client.call_tool("apply", {"env": "prod"})
    assert result.is_error and "did not approve" in text_of(result)
    assert "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_client_without_dialogs_gets_a_refusal_with_the_cli_command(
    sqlite_project: Path, tmp_path: Path, mode: str
) -> None:
    async with Client(build_server(sqlite_project), mode=mode) as client:  # no elicitation support declared
        result = await client.call_tool("apply", {"env": "prod"})
    assert result.is_error
    message = text_of(result)
    assert "cannot show an approval dialog" in message and "Nothing was changed" in message
    assert "db-migrate --env prod apply" in message and "requireApproval" in message
    assert not (tmp_path / "prod.db").exists() or "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_model_cannot_approve_by_passing_arguments(sqlite_project: Path, tmp_path: Path, mode: str) -> None:
    async with Client(build_server(sqlite_project), mode=mode) as client:
        result = await client.call_tool(
            "apply",
            {"env": "prod", "approved": True, "approved_plan_id": "x", "yes": True, "approval": {"approve": True}},
        )
    assert result.is_error  # approval arguments are unknown arguments: refused before anything is planned
    assert "Unknown argument(s) for apply: approval, approved, approved_plan_id, yes." in text_of(result)
    assert not (tmp_path / "prod.db").exists() or "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_rollback_on_production_asks_and_declining_keeps_the_table(
    sqlite_project: Path, tmp_path: Path, mode: str
) -> None:
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "prod"})
    dialogs = Dialogs("decline")
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=dialogs) as client:
        result = await client.call_tool("rollback", {"env": "prod", "steps": 2})
    assert result.is_error and "Nothing was changed" in text_of(result)
    assert "DROP TABLE users" in dialogs.shown[0]
    assert "users" in sqlite_tables(tmp_path / "prod.db")


async def test_rollback_on_production_runs_after_the_human_accepts(
    sqlite_project: Path, tmp_path: Path, mode: str
) -> None:
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "prod"})
        result = await client.call_tool("rollback", {"env": "prod", "to_version": "0"})
    assert not result.is_error, text_of(result)
    assert "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_closed_maintenance_window_is_offered_to_the_human(tmp_path: Path, mode: str) -> None:
    from datetime import datetime, timedelta

    from mcp_helpers import CREATE_USERS, make_project, write_migration

    opens = datetime.now(UTC) + timedelta(hours=12)  # a one-minute window, half a day away
    window = f"{opens:%H:%M}-{opens + timedelta(minutes=1):%H:%M} UTC"
    project = make_project(
        tmp_path / "proj", {"ops": {"url": f"sqlite:///{tmp_path / 'ops.db'}", "maintenanceWindow": window}}
    )
    write_migration(project, "20240101000000", "create_users", *CREATE_USERS)
    inside_window = Dialogs("accept", {"approve": True, "outside_window": False})
    async with Client(build_server(project), mode=mode, elicitation_callback=inside_window) as client:
        refused = await client.call_tool("apply", {"env": "ops"})
    async with Client(build_server(project), mode=mode) as client:  # no dialogs: the CLI override is named
        no_dialog = await client.call_tool("apply", {"env": "ops"})
    override = Dialogs("accept", {"approve": True, "outside_window": True})
    async with Client(build_server(project), mode=mode, elicitation_callback=override) as client:
        applied = await client.call_tool("apply", {"env": "ops"})
    assert "db-migrate --env ops apply --outside-window" in text_of(no_dialog)
    assert refused.is_error and "maintenance window" in text_of(refused)
    assert "maintenance window" in inside_window.shown[0]
    assert not applied.is_error, text_of(applied)
    assert "users" in sqlite_tables(tmp_path / "ops.db")


async def test_closed_window_is_offered_in_the_baseline_and_resolve_dialogs(tmp_path: Path, mode: str) -> None:
    from datetime import datetime, timedelta

    from mcp_helpers import ADD_PHONE, CREATE_USERS, make_project, write_migration

    opens = datetime.now(UTC) + timedelta(hours=12)  # a one-minute window, half a day away
    window = f"{opens:%H:%M}-{opens + timedelta(minutes=1):%H:%M} UTC"
    database = tmp_path / "ops.db"
    project = make_project(tmp_path / "proj", {"ops": {"url": f"sqlite:///{database}", "maintenanceWindow": window}})
    write_migration(project, "20240101000000", "create_users", *CREATE_USERS)
    write_migration(project, "20240102000000", "add_phone", *ADD_PHONE)
    baseline = {"env": "ops", "version": "20240101000000"}
    resolve = {"env": "ops", "version": "20240101000000", "action": "mark-applied"}

    inside_window = Dialogs("accept", {"approve": True, "outside_window": False})
    async with Client(build_server(project), mode=mode, elicitation_callback=inside_window) as client:
        refused = await client.call_tool("baseline", baseline)
    assert refused.is_error and "maintenance window" in text_of(refused)
    assert "maintenance window of 'ops' is closed" in inside_window.shown[0]
    assert not database.exists() or "schema_migrations" not in sqlite_tables(database)
    async with Client(build_server(project), mode=mode) as client:  # no dialogs: the CLI override is named
        no_dialog = await client.call_tool("baseline", baseline)
    assert "`db-migrate --env ops baseline --to 20240101000000 --outside-window`" in text_of(no_dialog)

    override = Dialogs("accept", {"approve": True, "outside_window": True})
    async with Client(build_server(project), mode=mode, elicitation_callback=override) as client:
        recorded = await client.call_tool("baseline", baseline)
        with sqlite3.connect(database) as db:  # what a failed run leaves behind
            db.execute("UPDATE schema_migrations SET status = 'failed' WHERE version = '20240101000000'")
        resolved = await client.call_tool("resolve", resolve)
    assert not recorded.is_error, text_of(recorded)
    assert not resolved.is_error, text_of(resolved)
    assert "maintenance window of 'ops' is closed" in override.shown[1]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT status FROM schema_migrations").fetchall() == [("applied",)]
        assert db.execute("SELECT action FROM schema_migrations_log ORDER BY id").fetchall()[-1] == ("mark-applied",)


async def test_approval_binds_to_the_plan_the_human_saw(sqlite_project: Path, tmp_path: Path, mode: str) -> None:
    from mcp_helpers import write_migration

    class ChangesThePlanWhileAsking(Dialogs):
        async def __call__(self, context, params):
            if not self.shown:  # someone adds a migration while the human reads the first plan
                write_migration(sqlite_project, "20240103000000", "drop_users", "DROP TABLE users", None)
            return await super().__call__(context, params)

    dialogs = ChangesThePlanWhileAsking("accept")
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=dialogs) as client:
        result = await client.call_tool("apply", {"env": "prod"})
    assert "drop_users" not in dialogs.shown[0]
    # The approval was for the old plan, so the service ran nothing: the changed plan is asked again (mid-call, or
    # as the next input-required round) before anything runs.
    assert len(dialogs.shown) == 2 and "drop_users" in dialogs.shown[1], mode
    assert result.structured_content["outcome"] == "done", text_of(result)
    assert [m["version"] for m in result.structured_content["migrations"]][-1] == "20240103000000"


async def test_a_rollback_plan_that_changed_after_the_yes_is_asked_again(
    sqlite_project: Path, tmp_path: Path, mode: str
) -> None:
    """The one approve-then-call path of apply, rollback and restore: the changed plan is a new question."""
    from migration_manager import service

    class AppliesMoreWhileAsking(Dialogs):
        async def __call__(self, context, params):
            if not self.shown:  # someone applies add_phone while the human reads "roll back create_users"
                more = service.ApplyRequest(project_dir=sqlite_project, env="prod", approved=True)
                assert service.apply(more).outcome == "done"
            self.action = "accept" if not self.shown else "decline"
            return await super().__call__(context, params)

    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "prod", "to_version": "20240101000000"})
    dialogs = AppliesMoreWhileAsking()
    async with Client(build_server(sqlite_project), mode=mode, elicitation_callback=dialogs) as client:
        result = await client.call_tool("rollback", {"env": "prod"})
    assert "create_users" in dialogs.shown[0] and "add_phone" not in dialogs.shown[0]
    assert len(dialogs.shown) == 2 and "add_phone" in dialogs.shown[1], mode
    assert result.is_error and "declined" in text_of(result) and "Nothing was changed" in text_of(result)
    with sqlite3.connect(tmp_path / "prod.db") as db:  # the human said no to the new plan: nothing was rolled back
        assert "phone" in [row[1] for row in db.execute("PRAGMA table_info(users)")]
