"""Every tool through the SDK's in-memory client, checked against the real database afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_helpers import Dialogs, sqlite_tables, text_of

from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio

ALL_TOOLS = {
    "status",
    "create",
    "validate",
    "analyze",
    "dry_run",
    "rollback_plan",
    "apply",
    "rollback",
    "resolve",
    "baseline",
    "compare",
    "test",
    "backup",
    "restore",
    "switch",
    "complete",
}


async def test_tools_are_listed_with_honest_annotations(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == ALL_TOOLS
    for name in ("status", "validate", "analyze", "dry_run", "rollback_plan", "compare"):
        assert tools[name].annotations.read_only_hint is True, name
        assert tools[name].annotations.destructive_hint is False, name
    for name in ("apply", "rollback", "resolve", "baseline", "restore", "switch", "complete"):
        assert tools[name].annotations.read_only_hint is False, name
        assert tools[name].annotations.destructive_hint is True, name
    for name in ("create", "test", "backup"):  # a file written; a scratch copy made and dropped; backup files
        assert tools[name].annotations.read_only_hint is False, name
        assert tools[name].annotations.destructive_hint is False, name
    for tool in tools.values():
        assert tool.title and len(tool.description) > 60, tool.name
        assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name


async def test_no_tool_takes_a_url_a_path_or_an_approval(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        names = set(tool.input_schema.get("properties", {}))
        assert not names & {
            "url",
            "project_dir",
            "migrations_dir",
            "approved",
            "approved_plan_id",
            "outside_window",
            "yes",
        }, (tool.name, names)


async def test_status_reports_pending_migrations_as_structured_output(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("status", {"env": "dev"})
    assert not result.is_error
    report = result.structured_content
    assert report["environment"] == "dev"
    assert [m["version"] for m in report["pending"]] == ["20240101000000", "20240102000000"]
    assert report["applied"] == [] and report["dirty"] is False
    assert "Pending (2):" in result.content[0].text  # the terminal's words
    assert json.loads(result.content[1].text) == report  # the JSON, for clients that read text only


async def test_create_writes_a_migration_file_and_touches_no_database(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("create", {"name": "add orders table"})
    assert not result.is_error, text_of(result)
    path = Path(result.structured_content["path"])
    assert path.parent == sqlite_project / "migrations" and path.name.endswith("_add_orders_table.sql")
    assert "-- UP" in path.read_text() and "-- DOWN" in path.read_text()
    assert not (tmp_path / "dev.db").exists() or "users" not in sqlite_tables(tmp_path / "dev.db")


async def test_create_keeps_a_unicode_name_as_the_cli_does(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("create", {"name": "ünïcödé 名前"})
    assert not result.is_error, text_of(result)
    assert Path(result.structured_content["path"]).name.endswith("_ünïcödé_名前.sql")


async def test_create_refuses_a_name_that_is_a_path(sqlite_project: Path) -> None:
    before = sorted(p.name for p in (sqlite_project / "migrations").iterdir())
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("create", {"name": "../../etc/evil"})
    assert result.is_error and "name must be words" in text_of(result)
    assert sorted(p.name for p in (sqlite_project / "migrations").iterdir()) == before
    assert not any("evil" in p.name for p in sqlite_project.parent.rglob("*"))


async def test_validate_flags_a_migration_that_does_not_parse(sqlite_project: Path) -> None:
    (sqlite_project / "migrations" / "20240103000000_broken.sql").write_text(
        "-- UP\nCREATE TABLE (;\n-- DOWN\nSELECT 1;\n"
    )
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("validate", {"env": "dev"})
    assert not result.is_error
    report = result.structured_content
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert failed and "20240103000000_broken.sql" in json.dumps(failed)
    assert "Result: NOT SAFE" in result.content[0].text  # the terminal's verdict


async def test_validate_passes_good_migrations(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("validate", {"env": "dev"})
    assert result.structured_content["ok"] is True, text_of(result)


async def test_dry_run_shows_statements_and_changes_nothing(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("dry_run", {"env": "dev"})
    report = result.structured_content
    assert report["outcome"] == "dry-run" and report["dry_run"] is True
    sql = [s["sql"] for m in report["migrations"] for s in m["statements"]]
    assert sql[0].startswith("CREATE TABLE users") and sql[1].startswith("ALTER TABLE users ADD COLUMN phone")
    assert "users" not in sqlite_tables(tmp_path / "dev.db")


async def test_dry_run_says_production_needs_approval(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("dry_run", {"env": "prod"})
    report = result.structured_content
    assert report["needs_approval"] is True
    assert any("requireApproval" in r for r in report["approval_reasons"])


async def test_analyze_lists_one_pending_migration_with_its_statements(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        one = await client.call_tool("analyze", {"env": "dev", "version": "20240102000000"})
        missing = await client.call_tool("analyze", {"env": "dev", "version": "20991231000000"})
    runs = one.structured_content["migrations"]
    assert [r["version"] for r in runs] == ["20240102000000"]
    assert runs[0]["statements"][0]["sql"].startswith("ALTER TABLE users ADD COLUMN phone")
    assert missing.is_error and "20991231000000 is not pending" in text_of(missing)


async def test_apply_on_a_free_environment_needs_no_dialog(sqlite_project: Path, tmp_path: Path) -> None:
    dialogs = Dialogs("decline")  # would refuse if asked: proves it is not asked
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        result = await client.call_tool("apply", {"env": "dev"}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    assert result.structured_content["outcome"] == "done"
    assert dialogs.shown == []
    assert "users" in sqlite_tables(tmp_path / "dev.db")
    messages = [m for _, _, m in progress]
    assert any("20240101000000_create_users" in (m or "") for m in messages)  # per migration
    assert any((m or "").startswith("ALTER TABLE users ADD COLUMN phone") for m in messages)  # per statement
    values = [v for v, _, _ in progress]
    assert values == sorted(values) and progress[-1][1] == 2


async def test_apply_to_version_stops_there(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("apply", {"env": "dev", "to_version": "20240101000000"})
        status = await client.call_tool("status", {"env": "dev"})
    assert [m["version"] for m in result.structured_content["migrations"]] == ["20240101000000"]
    assert status.structured_content["current_version"] == "20240101000000"
    assert [m["version"] for m in status.structured_content["pending"]] == ["20240102000000"]


async def test_rollback_runs_the_down_of_the_newest_migration(sqlite_project: Path, tmp_path: Path) -> None:
    import sqlite3

    async with Client(build_server(sqlite_project)) as client:
        await client.call_tool("apply", {"env": "dev"})
        result = await client.call_tool("rollback", {"env": "dev"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["version_after"] == "20240101000000"
    with sqlite3.connect(tmp_path / "dev.db") as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(users)")}
    assert columns == {"id", "email"}


async def test_compare_shows_the_matrix_across_environments(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        await client.call_tool("apply", {"env": "dev"})
        result = await client.call_tool("compare", {"envs": ["dev", "prod"]})
    report = result.structured_content
    assert report["environments"] == ["dev", "prod"]
    states = {row["version"]: row["states"] for row in report["rows"]}
    assert states["20240102000000"] == {"dev": "applied", "prod": "pending"}
    assert any("prod is 2 migration(s) behind" in line for line in report["summary"])


async def test_resolve_marks_a_dirty_migration_after_the_human_confirms(sqlite_project: Path, tmp_path: Path) -> None:
    import sqlite3

    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "dev"})
        with sqlite3.connect(tmp_path / "dev.db") as db:  # what a killed per-statement run leaves behind
            db.execute(
                "UPDATE schema_migrations SET status = 'failed', statements_done = 0 WHERE version = '20240102000000'"
            )
        dirty = await client.call_tool("status", {"env": "dev"})
        result = await client.call_tool(
            "resolve", {"env": "dev", "version": "20240102000000", "action": "mark-applied"}
        )
        after = await client.call_tool("status", {"env": "dev"})
    assert dirty.structured_content["dirty"] is True
    assert not result.is_error, text_of(result)
    assert after.structured_content["dirty"] is False
    assert after.structured_content["current_version"] == "20240102000000"


async def test_resolve_confirmed_in_the_dialog_runs_on_a_require_approval_environment(
    sqlite_project: Path, tmp_path: Path
) -> None:
    import sqlite3

    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("accept")) as client:
        await client.call_tool("apply", {"env": "prod"})
        with sqlite3.connect(tmp_path / "prod.db") as db:
            db.execute("UPDATE schema_migrations SET status = 'failed' WHERE version = '20240102000000'")
        result = await client.call_tool(
            "resolve", {"env": "prod", "version": "20240102000000", "action": "mark-applied"}
        )
        after = await client.call_tool("status", {"env": "prod"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["outcome"] == "done"
    assert after.structured_content["dirty"] is False


async def test_baseline_records_migrations_without_running_them_after_the_human_confirms(
    sqlite_project: Path, tmp_path: Path
) -> None:
    dialogs = Dialogs("accept")
    async with Client(build_server(sqlite_project), elicitation_callback=dialogs) as client:
        result = await client.call_tool("baseline", {"env": "dev", "version": "20240101000000"})
        status = await client.call_tool("status", {"env": "dev"})
    assert not result.is_error, text_of(result)
    assert "WITHOUT running them" in dialogs.shown[0] and "20240101000000_create_users" in dialogs.shown[0]
    assert "20240102000000" not in dialogs.shown[0]
    assert status.structured_content["current_version"] == "20240101000000"
    assert "users" not in sqlite_tables(tmp_path / "dev.db")  # recorded, not run


async def test_baseline_and_resolve_refuse_without_a_dialog(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        baseline = await client.call_tool("baseline", {"env": "dev", "version": "20240101000000"})
        resolve = await client.call_tool("resolve", {"env": "dev", "version": "20240101000000", "action": "retry"})
        status = await client.call_tool("status", {"env": "dev"})
    assert baseline.is_error and "`db-migrate --env dev baseline --to 20240101000000`" in text_of(baseline)
    assert resolve.is_error and "`db-migrate --env dev resolve 20240101000000 --retry`" in text_of(resolve)
    assert status.structured_content["current_version"] is None


async def test_declined_baseline_records_nothing(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("decline")) as client:
        result = await client.call_tool("baseline", {"env": "dev", "version": "20240102000000"})
        status = await client.call_tool("status", {"env": "dev"})
    assert result.is_error and "Nothing was changed" in text_of(result)
    assert status.structured_content["current_version"] is None


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_cancelled_apply_finishes_the_migration_instead_of_cutting_it(tmp_path: Path, mode: str) -> None:
    import anyio
    from mcp_helpers import make_project, write_migration

    project = make_project(tmp_path / "proj", {"dev": {"url": f"sqlite:///{tmp_path / 'dev.db'}"}})
    slow = (
        "CREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 3000000) SELECT x FROM c"
    )
    write_migration(project, "20240101000000", "slow", slow, "DROP TABLE big")
    async with Client(build_server(project), mode=mode) as client:
        with anyio.move_on_after(0.2):  # the client gives up (and cancels) while the statement runs
            await client.call_tool("apply", {"env": "dev"})
        with anyio.fail_after(60):
            while True:
                status = (await client.call_tool("status", {"env": "dev"})).structured_content
                if status["current_version"] or status["dirty"]:
                    break
                await anyio.sleep(0.1)
    assert status["current_version"] == "20240101000000" and status["dirty"] is False
    assert "big" in sqlite_tables(tmp_path / "dev.db")


async def test_test_tool_rehearses_on_a_copy_and_leaves_the_environment_alone(
    sqlite_project: Path, tmp_path: Path
) -> None:
    async with Client(build_server(sqlite_project)) as client:
        await client.call_tool("apply", {"env": "dev", "to_version": "20240101000000"})
        result = await client.call_tool("test", {"env": "dev"})
        status = await client.call_tool("status", {"env": "dev"})
    assert not result.is_error, text_of(result)
    report = result.structured_content
    assert report["outcome"] == "passed" and report["copy_dropped"] is True
    assert [m["version"] for m in report["migrations"]] == ["20240102000000"]
    text = text_of(result)  # the terminal's words: the copy first, the outcome last
    assert "Test on a copy of dev" in text and "\nPASSED " in text and "roll back on the copy" in text
    assert status.structured_content["current_version"] == "20240101000000"
    assert "phone" not in {c for c in _sqlite_columns(tmp_path / "dev.db", "users")}


def _sqlite_columns(path: Path, table: str) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
