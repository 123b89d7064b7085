"""Resources, prompts, and errors: what a client reads, and what it never sees (tracebacks, passwords)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from mcp_helpers import make_project, text_of

from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio
SECRET = "hunter2-s3cret"


async def read_json(client: Client, uri: str) -> dict:
    result = await client.read_resource(uri)
    return json.loads(result.contents[0].text)


async def test_resources_and_templates_are_listed(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        static = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert static == {"migrations://status", "migrations://files", "migrations://config", "migrations://reports"}
    assert templates == {"migrations://history/{env}", "migrations://status/{env}", "migrations://reports/{report_id}"}


async def test_history_resource_has_the_history_table_and_the_event_log(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        await client.call_tool("apply", {"env": "dev"})
        await client.call_tool("rollback", {"env": "dev"})
        history = await read_json(client, "migrations://history/dev")
    assert [m["version"] for m in history["rows"]] == ["20240101000000"]
    assert history["rows"][0]["state"] == "applied" and history["rows"][0]["checksum"]
    actions = [(e["version"], e["action"]) for e in history["events"]]  # newest first
    assert actions[0] == ("20240102000000", "rollback")
    assert ("20240101000000", "apply") in actions and ("20240102000000", "apply") in actions


async def test_status_resources_match_the_status_tool(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        default = await read_json(client, "migrations://status")
        prod = await read_json(client, "migrations://status/prod")
        tool = (await client.call_tool("status", {"env": "prod"})).structured_content
    assert default["environment"] == "dev"
    assert prod == {k: v for k, v in tool.items() if k not in ("omitted", "full_report")}  # those say what a tool cut


async def test_files_resource_has_parsed_up_and_down(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        files = await read_json(client, "migrations://files")
    first = files["migrations"][0]
    assert first["file"] == "migrations/20240101000000_create_users.sql"
    assert first["up"]["statements"] == ["CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL)"]
    assert first["down"]["statements"] == ["DROP TABLE users"]
    assert first["checksum"].startswith("v1:") and first["can_roll_back"] is True


async def test_config_resource_redacts_passwords(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, {"prod": {"url": f"postgresql://app:{SECRET}@db.example:5432/app", "requireApproval": True}}
    )
    async with Client(build_server(project)) as client:
        result = await client.read_resource("migrations://config")
    text = result.contents[0].text
    assert SECRET not in text
    config = json.loads(text)
    assert config["settings"]["environments"]["prod"]["url"] == "postgresql://app:***@db.example:5432/app"
    assert config["settings"]["environments"]["prod"]["requireApproval"] is True


async def test_resource_for_an_unknown_environment_is_a_protocol_error(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        with pytest.raises(MCPError, match="Unknown environment 'nope'"):
            await client.read_resource("migrations://history/nope")


async def test_prompts_guide_the_common_flows(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        plan = await client.get_prompt("plan_zero_downtime_change", {"change": "make users.phone NOT NULL"})
        review = await client.get_prompt("review_migration", {"version": "20240102000000", "env": "prod"})
    assert names == {"plan_zero_downtime_change", "review_migration"}
    assert "make users.phone NOT NULL" in plan.messages[0].content.text
    assert "expand" in plan.messages[0].content.text
    assert "20240102000000" in review.messages[0].content.text and "'prod'" in review.messages[0].content.text


async def test_a_url_instead_of_an_environment_name_is_refused_without_echoing_the_password(
    sqlite_project: Path,
) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("status", {"env": f"postgresql://app:{SECRET}@db/app"})
    assert result.is_error
    assert SECRET not in text_of(result)
    assert "is not an environment name" in text_of(result)


async def test_unknown_environment_error_names_the_known_ones(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("apply", {"env": "qa"})
    assert result.is_error
    assert "Unknown environment 'qa'. Known environments: dev, prod." in text_of(result)
    assert "Next step:" in text_of(result)  # the same explanation the CLI gives


async def test_unreachable_database_error_is_redacted(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"broken": {"url": f"postgresql://app:{SECRET}@127.0.0.1:1/nodb"}})
    async with Client(build_server(project)) as client:
        result = await client.call_tool("status", {"env": "broken"})
    assert result.is_error
    assert SECRET not in text_of(result)
    assert "127.0.0.1" in text_of(result)


async def test_a_crash_reaches_the_model_without_traceback_or_password(
    sqlite_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migration_manager import service

    def crash(request):
        raise RuntimeError(f"driver exploded on postgresql://app:{SECRET}@db/app")

    monkeypatch.setattr(service, "status", crash)
    async with Client(build_server(sqlite_project)) as client:
        result = await client.call_tool("status", {"env": "dev"})
        after = await client.call_tool("validate", {"env": "dev"})  # the server is still serving
    assert result.is_error
    assert SECRET not in text_of(result) and "Traceback" not in text_of(result)
    assert "Unexpected internal error (RuntimeError" in text_of(result)
    assert not after.is_error


async def test_bad_argument_types_do_not_crash_the_server(sqlite_project: Path) -> None:
    async with Client(build_server(sqlite_project)) as client:
        bad = await client.call_tool("rollback", {"env": "dev", "steps": -3})
        bad_version = await client.call_tool("dry_run", {"env": "dev", "to_version": "1; DROP TABLE x"})
        good = await client.call_tool("status", {"env": "dev"})
    assert bad.is_error and bad_version.is_error
    assert "to_version must be a migration version" in text_of(bad_version)
    assert not good.is_error


def test_server_serves_the_project_claude_code_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MM_PROJECT_DIR", raising=False)
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    assert build_server().state.project_dir == tmp_path.resolve()
    monkeypatch.setenv("MM_PROJECT_DIR", str(tmp_path / "other"))
    assert build_server().state.project_dir == (tmp_path / "other").resolve()
    assert build_server(tmp_path / "explicit").state.project_dir == (tmp_path / "explicit").resolve()


async def test_environment_names_are_completed_for_resources_and_prompts(sqlite_project: Path) -> None:
    from mcp_types import PromptReference, ResourceTemplateReference

    async with Client(build_server(sqlite_project)) as client:
        history = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="migrations://history/{env}"),
            {"name": "env", "value": "p"},
        )
        prompt = await client.complete(
            PromptReference(type="ref/prompt", name="review_migration"), {"name": "env", "value": ""}
        )
        other = await client.complete(
            PromptReference(type="ref/prompt", name="review_migration"), {"name": "version", "value": ""}
        )
    assert history.completion.values == ["prod"]
    assert prompt.completion.values == ["dev", "prod"]
    assert other.completion.values == []
