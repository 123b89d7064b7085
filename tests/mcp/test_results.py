"""What a tool result says: isError for a failed operation with its state and next step, results that fit
a client's limit (the full report as a resource), next steps named as tools, and arguments checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_helpers import Dialogs, sqlite_tables, text_of

import dbcheck
from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio
MANY = 200
CLAUDE_CODE_LIMIT = 100_000  # bytes: about 25,000 tokens, where Claude Code cuts a tool result


def result_size(result) -> int:
    return len(text_of(result)) + len(json.dumps(result.structured_content or {}))


def failing_project(tmp_path: Path, url: str) -> Path:
    project = dbcheck.make_project(tmp_path / "proj", url, rollback={"autoOnFailure": False})
    dbcheck.write_native(project, "20240101000000", "t", "CREATE TABLE t (id integer PRIMARY KEY)", "DROP TABLE t")
    dbcheck.write_native(project, "20240102000000", "boom", "SELECT 1 / (SELECT count(*) FROM t)", "SELECT 1")
    dbcheck.write_native(project, "20240103000000", "after", "CREATE TABLE u (id integer)", "DROP TABLE u")
    return project


async def test_a_failed_apply_is_an_error_with_its_state_and_next_step(tmp_path: Path, pg_url: str) -> None:
    project = failing_project(tmp_path, pg_url)
    async with Client(build_server(project)) as client:
        result = await client.call_tool("apply", {"env": "dev"})
    text = text_of(result).split("\n{")[0]
    assert result.is_error
    assert result.structured_content["outcome"] == "failed"  # the report is still there for the model
    assert "division by zero" in text and "Database state:" in text and "Next step:" in text
    assert dbcheck.history(pg_url)["20240101000000"][0] == "applied"
    assert "20240102000000" not in dbcheck.history(pg_url)  # its transaction rolled back
    assert dbcheck.user_tables(pg_url) == {"t"}


async def test_a_failed_test_is_an_error_with_a_next_step(tmp_path: Path, pg_url: str) -> None:
    project = failing_project(tmp_path, pg_url)
    async with Client(build_server(project)) as client:
        result = await client.call_tool("test", {"env": "dev"})
    text = text_of(result)
    assert result.is_error and result.structured_content["outcome"] == "failed"
    assert "Next step:" in text and "the test tool" in text
    assert "Nonems" not in text and "not applied" in text  # the migration that never ran on the copy
    assert dbcheck.user_tables(pg_url) == set()  # the environment itself was not changed


async def test_a_dry_run_that_finds_errors_is_not_a_failed_tool_call(sqlite_project: Path) -> None:
    (sqlite_project / "migrations" / "20240103000000_bad.sql").write_text(
        "-- UP\nALTER TABLE missing ADD COLUMN x integer;\n-- DOWN\nSELECT 1;\n"
    )
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("dry_run", {"env": "dev"})
    assert result.structured_content["outcome"] == "failed" and not result.is_error


async def test_a_200_migration_apply_and_rollback_fit_and_keep_the_full_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    project = dbcheck.make_project(tmp_path / "proj", url)
    for i in range(MANY):
        dbcheck.write_native(
            project,
            f"2024010100{i:04d}",
            f"table_{i}",
            [
                f"CREATE TABLE t{i} (id integer PRIMARY KEY, note varchar(200))",
                f"CREATE INDEX t{i}_note ON t{i} (note)",
            ],
            f"DROP TABLE t{i}",
        )
    async with Client(build_server(project)) as client:
        applied = await client.call_tool("apply", {"env": "dev"})
        rolled = await client.call_tool("rollback", {"env": "dev", "to_version": "0"})
        full = json.loads((await client.read_resource(applied.structured_content["full_report"])).contents[0].text)
        listed = json.loads((await client.read_resource("migrations://reports")).contents[0].text)
    for result in (applied, rolled):
        assert not result.is_error, text_of(result)[:500]
        assert result_size(result) * 2 < CLAUDE_CODE_LIMIT  # structured content + its JSON text copy
        assert len(text_of(result).split("\n{")[0]) < 4_000  # the summary: counts, not every migration
        assert result.structured_content["omitted"]["migrations"] > 150
        assert result.structured_content["full_report"] in {item["uri"] for item in listed}
    assert f"{MANY} migration(s): {MANY} applied" in text_of(applied)
    assert f"{MANY} migration(s): {MANY} rolled-back" in text_of(rolled)
    assert [m["status"] for m in full["migrations"]] == ["applied"] * MANY and full["outcome"] == "done"
    assert len(full["migrations"][0]["statements"]) == 2
    assert sqlite_tables(tmp_path / "many.db") <= {"schema_migrations", "schema_migrations_log", "sqlite_sequence"}


async def test_a_small_result_is_whole_and_names_no_full_report(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("apply", {"env": "dev"})
    assert result.structured_content["omitted"] == {} and result.structured_content["full_report"] is None
    assert len(result.structured_content["migrations"]) == 2


async def test_next_steps_name_tools_not_cli_commands(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        status = await client.call_tool("status", {"env": "dev"})
        analyzed = await client.call_tool("analyze", {"env": "dev"})
    assert "Next: the `validate` tool, then the `dry_run` tool, then the `apply` tool" in text_of(status)
    assert status.structured_content["next_action"].startswith("the `validate` tool")
    assert "db-migrate" not in text_of(status) and "db-migrate" not in text_of(analyzed)


async def test_a_dirty_migration_names_the_resolve_tool(tmp_path: Path, mysql_url: str) -> None:
    project = dbcheck.make_project(tmp_path / "proj", mysql_url, rollback={"autoOnFailure": False})
    dbcheck.write_native(
        project, "20240101000000", "half", ["CREATE TABLE a (id integer)", "SELECT * FROM nowhere"], "DROP TABLE a"
    )
    async with Client(build_server(project)) as client:
        failed = await client.call_tool("apply", {"env": "dev"})
        refused = await client.call_tool("apply", {"env": "dev"})
    assert failed.is_error and "the `resolve` tool (version=20240101000000, action=retry)" in text_of(failed)
    assert refused.is_error and "the `resolve` tool (version=20240101000000, action=retry)" in text_of(refused)
    assert "db-migrate resolve" not in text_of(failed) + text_of(refused)
    assert dbcheck.history(mysql_url)["20240101000000"][:2] == ("failed", 1)


async def test_an_unknown_argument_is_refused_before_anything_runs(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("apply", {"env": "dev", "to_versoin": "20240101000000"})
    assert result.is_error
    assert text_of(result) == (
        "Unknown argument(s) for apply: to_versoin. Nothing was run. apply takes: env, strategy, to_version."
    )
    assert not (tmp_path / "dev.db").exists() or "users" not in sqlite_tables(tmp_path / "dev.db")


async def test_an_invalid_argument_is_explained_in_one_line(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        await client.call_tool("apply", {"env": "dev"})
        result = await client.call_tool("rollback", {"env": "dev", "steps": 0})
    assert result.is_error
    assert text_of(result) == (
        "Invalid argument for rollback (steps: Input should be greater than or equal to 1). "
        "Nothing was run; call it again with a valid value."
    )
    assert "users" in sqlite_tables(tmp_path / "dev.db")


async def test_tool_descriptions_have_no_docstring_indentation(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert not [line for line in tool.description.splitlines() if line.startswith(" ")], tool.name
        assert tool.input_schema.get("additionalProperties") is False, tool.name


async def test_a_cancelled_dialog_says_cancelled(sqlite_project: Path, tmp_path: Path) -> None:
    async with Client(build_server(sqlite_project), elicitation_callback=Dialogs("cancel")) as client:
        result = await client.call_tool("apply", {"env": "prod"})
    assert result.is_error and "The human cancelled the approval" in text_of(result)
    assert "canceld" not in text_of(result)
    assert not (tmp_path / "prod.db").exists() or "users" not in sqlite_tables(tmp_path / "prod.db")


async def test_validate_says_when_it_passes_with_dangerous_findings(tmp_path: Path, pg_url: str) -> None:
    project = dbcheck.make_project(tmp_path / "proj", pg_url)
    dbcheck.write_native(
        project,
        "20240101000000",
        "t",
        ["CREATE TABLE t (email text)", "INSERT INTO t VALUES ('a'), ('a')"],
        "DROP TABLE t",
    )
    dbcheck.apply_ok(project)
    dbcheck.write_native(
        project, "20240102000000", "u", "CREATE UNIQUE INDEX t_email ON t (email)", "DROP INDEX t_email"
    )
    async with Client(build_server(project)) as client:
        result = await client.call_tool("validate", {"env": "dev"})
    assert "Result: NEEDS REVIEW" in text_of(result) and "unique-duplicates" in text_of(result)
    assert "Next: the analyze tool" in text_of(result)
