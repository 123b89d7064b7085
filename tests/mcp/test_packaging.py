"""The skill, the slash commands, the plugin and the MCP registration, checked against the formats
they claim (Agent Skills spec, Claude Code command frontmatter, plugin manifest, .mcp.json)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mcp_helpers import REPO, node_tool

SKILL_FIELDS = {"name", "description", "license", "allowed-tools", "metadata", "compatibility"}
COMMAND_FIELDS = {"description", "argument-hint", "allowed-tools", "model", "disable-model-invocation"}
TRIGGERS = ("migration", "database", "schema", "migrate", "rollback")
FILE_TRIGGERS = ("migrations/", "*.sql", "prisma/schema.prisma", "alembic/")


def frontmatter(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, f"{path} has no YAML frontmatter"
    return yaml.safe_load(match.group(1)), match.group(2)


def test_skill_frontmatter_follows_the_agent_skills_spec() -> None:
    meta, body = frontmatter(REPO / "SKILL.md")
    assert set(meta) <= SKILL_FIELDS, set(meta) - SKILL_FIELDS
    assert meta["name"] == "migration-manager"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta["name"]) and len(meta["name"]) <= 64
    assert isinstance(meta["description"], str) and 0 < len(meta["description"]) <= 1024
    assert all(isinstance(v, str) for v in meta["metadata"].values()), "metadata values must be strings"
    assert isinstance(meta["allowed-tools"], str)
    assert len(body.splitlines()) < 200, "SKILL.md stays short; details belong in skill_resources/"


def test_skill_description_carries_the_triggers_and_when_to_use_it() -> None:
    description = frontmatter(REPO / "SKILL.md")[0]["description"].lower()
    for word in TRIGGERS:
        assert word in description, word
    assert "use it when" in description
    for pattern in FILE_TRIGGERS:
        assert pattern in description, pattern


READ_ONLY_TOOLS = ("status", "validate", "analyze", "dry_run", "rollback_plan", "compare")
# Claude Code names a server's tools after where it came from: the project's .mcp.json, or the `sc` plugin.
TOOL_PREFIXES = ("mcp__migration-manager__", "mcp__plugin_sc_migration-manager__")


def test_skill_and_commands_preapprove_both_names_of_the_read_only_tools() -> None:
    skill = frontmatter(REPO / "SKILL.md")[0]["allowed-tools"].split()
    commands = [
        [
            t.strip()
            for t in frontmatter(REPO / ".claude" / "commands" / "sc" / f"{name}.md")[0]["allowed-tools"].split(",")
        ]
        for name in ("db-migrate", "migration")
    ]
    for allowed in (skill, *commands):
        for prefix in TOOL_PREFIXES:
            assert {prefix + tool for tool in READ_ONLY_TOOLS} <= set(allowed), (prefix, allowed)


def test_skill_shows_the_rollback_plan_before_any_rollback() -> None:
    body = frontmatter(REPO / "SKILL.md")[1]
    assert "**Always call `rollback_plan` first**" in body and "`plan_id`" in body


def test_skill_preapproves_only_read_only_tools() -> None:
    allowed = frontmatter(REPO / "SKILL.md")[0]["allowed-tools"].split()
    assert not [t for t in allowed if t.endswith(("__apply", "__rollback", "__resolve", "__create"))]
    assert not [t for t in allowed if t.startswith(("Bash", "Write", "Edit"))]


def test_every_skill_resource_the_skill_points_to_exists() -> None:
    body = frontmatter(REPO / "SKILL.md")[1]
    referenced = set(re.findall(r"skill_resources/[\w.-]+\.md", body))
    assert len(referenced) >= 6
    missing = [r for r in referenced if not (REPO / r).is_file()]
    assert not missing, missing


def test_skill_validates_with_the_reference_validator(tmp_path: Path) -> None:
    validator = node_tool("skills-ref")
    skill = tmp_path / "migration-manager"  # the spec wants the folder named like the skill
    skill.mkdir()
    shutil.copy(REPO / "SKILL.md", skill / "SKILL.md")
    shutil.copytree(REPO / "skill_resources", skill / "skill_resources")
    done = subprocess.run([str(validator), "validate", str(skill)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid skill" in done.stdout


@pytest.mark.parametrize("name", ["db-migrate", "migration"])
def test_slash_command_frontmatter_and_arguments(name: str) -> None:
    meta, body = frontmatter(REPO / ".claude" / "commands" / "sc" / f"{name}.md")
    assert set(meta) <= COMMAND_FIELDS, set(meta) - COMMAND_FIELDS
    assert meta["description"] and meta["argument-hint"]
    assert "$ARGUMENTS" in body
    tools = [t.strip() for t in meta["allowed-tools"].split(",")]
    assert "mcp__migration-manager__status" in tools
    assert not [t for t in tools if t.endswith(("__apply", "__rollback", "__resolve"))], "approvals stay with the human"
    assert "migration-manager" in body and "db-migrate" in body


def test_db_migrate_command_maps_every_subcommand_to_a_tool() -> None:
    body = frontmatter(REPO / ".claude" / "commands" / "sc" / "db-migrate.md")[1]
    rows = [
        [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in body.splitlines() if line.startswith("| `")
    ]
    mapped = {typed.split("`")[1].split()[0]: tool.strip("`") for typed, tool, _ in rows}
    assert mapped == {
        "status": "status",
        "create": "create",
        "validate": "validate",
        "analyze": "analyze",
        "dry-run": "dry_run",
        "test": "test",
        "apply": "apply",
        "complete": "complete",
        "rollback": "rollback",
        "compare": "compare",
        "resolve": "resolve",
        "baseline": "baseline",
        "backup": "backup",
        "restore": "restore",
        "switch": "switch",
    }


DOCS_WITH_COMMANDS = [
    "SKILL.md",
    "skill_resources/strategies.md",
    "skill_resources/zero-downtime-playbooks.md",
    "skill_resources/sql-templates.md",
    "skill_resources/configuration.md",
    ".claude/commands/sc/db-migrate.md",
    ".claude/commands/sc/migration.md",
    "docs/mcp.md",
]


def test_every_cli_command_the_docs_show_is_accepted_by_the_cli() -> None:
    import shlex

    from migration_manager.surfaces.cli.app import build_parser

    shown = [
        (doc, span)
        for doc in DOCS_WITH_COMMANDS
        for span in re.findall(r"(?<![:/\w])`(db-migrate [^`]+)`", (REPO / doc).read_text())
        if "<" not in span and "..." not in span
    ]
    assert len(shown) >= 3
    for doc, command in shown:
        try:
            build_parser().parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{doc}: `{command}` is not a valid db-migrate command")


def test_plugin_manifests_bundle_skill_commands_and_server() -> None:
    at_root = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())  # the clone as a skills-dir plugin
    folder = json.loads((REPO / "plugin" / ".claude-plugin" / "plugin.json").read_text())  # what a marketplace installs
    for plugin, root in [(at_root, REPO), (folder, REPO / "plugin")]:
        assert plugin["name"] == "sc"  # plugin commands are /<plugin>:<command>: /sc:db-migrate
        assert re.fullmatch(r"\d+\.\d+\.\d+", plugin["version"])
        assert (root / plugin["skills"][0] / "SKILL.md").resolve() == (REPO / "SKILL.md").resolve()
        assert (root / plugin["commands"] / "db-migrate.md").resolve() == (REPO / ".claude/commands/sc/db-migrate.md")
        command = plugin["mcpServers"]["migration-manager"]["command"].replace("${CLAUDE_PLUGIN_ROOT}", str(root))
        assert os.access(command, os.X_OK), command
    assert {k: v for k, v in at_root.items() if k not in ("commands", "mcpServers")} == {
        k: v for k, v in folder.items() if k not in ("commands", "mcpServers")
    }
    market = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())
    assert [(p["name"], p["source"], p["version"]) for p in market["plugins"]] == [
        ("sc", "./plugin", at_root["version"])
    ]


def test_mcp_json_launches_the_server_from_a_clone() -> None:
    server = json.loads((REPO / ".mcp.json").read_text())["mcpServers"]["migration-manager"]
    assert server["type"] == "stdio"
    command = server["command"].replace("${CLAUDE_PROJECT_DIR:-.}", str(REPO))
    assert os.access(command, os.X_OK)
    done = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0 and "--transport" in done.stdout


def test_example_settings_are_accepted_by_the_configuration_loader(tmp_path: Path) -> None:
    from migration_manager.config import load_settings

    (tmp_path / ".claude").mkdir()
    shutil.copy(REPO / ".claude" / "settings.json", tmp_path / ".claude" / "settings.json")
    settings = load_settings(tmp_path)
    assert set(settings.environments) == {"dev", "staging", "production"}
    assert settings.environments["production"].requireApproval is True
    assert settings.environments["production"].maintenanceWindow == "02:00-04:00 UTC"
    assert settings.rollback.keepBackups == 7


def run_hook(project: Path, file_path: Path) -> subprocess.CompletedProcess:
    event = {
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "cwd": str(project),
        "tool_input": {"file_path": str(file_path)},
    }
    env = {
        **os.environ,
        "CLAUDE_PROJECT_DIR": str(project),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [sys.executable, str(REPO / ".claude" / "hooks" / "validate_migration.py")],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_hook_reports_a_broken_migration_to_claude(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    bad = tmp_path / "migrations" / "20240101000000_bad.sql"
    bad.write_text("-- UP\nCREATE TABLE (;\n-- DOWN\nSELECT 1;\n")
    done = run_hook(tmp_path, bad)
    assert done.returncode == 2  # Claude Code shows stderr to Claude
    assert "20240101000000_bad.sql" in done.stderr and "SQL parses" in done.stderr


def test_hook_tells_claude_about_a_danger_finding_on_the_live_data(tmp_path: Path) -> None:
    db = tmp_path / "dev.db"
    settings = {"skills": {"migration-manager": {"environments": {"dev": {"url": f"sqlite:///{db}"}}}}}
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(settings))
    (tmp_path / "migrations").mkdir()
    with sqlite3.connect(db) as conn:
        conn.executescript("CREATE TABLE t (email text); INSERT INTO t VALUES ('a'), ('a');")
    unique = tmp_path / "migrations" / "20240101000000_unique.sql"
    unique.write_text("-- UP\nCREATE UNIQUE INDEX t_email ON t (email);\n-- DOWN\nDROP INDEX t_email;\n")
    done = run_hook(tmp_path, unique)
    assert done.returncode == 2  # validate passes (the SQL is fine), but the UNIQUE would fail on these rows
    assert "danger unique-duplicates (20240101000000 statement 1)" in done.stderr and "fix:" in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        "-- UP\nCREATE TABLE p (id integer PRIMARY KEY, email text;\n-- DOWN\nDROP TABLE p;\n",
        "-- UP\nCREATE TABLE p (id integer PRIMARY KEY, email text\n-- DOWN\nDROP TABLE p;\n",
    ],
)
def test_hook_reports_an_unclosed_parenthesis(tmp_path: Path, text: str) -> None:
    (tmp_path / "migrations").mkdir()
    bad = tmp_path / "migrations" / "20240101000000_paren.sql"
    bad.write_text(text)
    done = run_hook(tmp_path, bad)
    assert done.returncode == 2 and "FAILED SQL parses" in done.stderr, done.stdout + done.stderr


def test_hook_is_silent_for_good_migrations_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    good = tmp_path / "migrations" / "20240101000000_ok.sql"
    good.write_text("-- UP\nCREATE TABLE t (id integer);\n-- DOWN\nDROP TABLE t;\n")
    (tmp_path / "fixtures").mkdir()
    other_sql = tmp_path / "fixtures" / "seed.sql"  # SQL, but not a migration of this project
    other_sql.write_text("CREATE TABLE (;")
    assert run_hook(tmp_path, good).returncode == 0
    for other in (other_sql, tmp_path / "README.md"):
        skipped = run_hook(tmp_path, other)
        assert skipped.returncode == 0 and skipped.stderr == ""


def test_hook_follows_the_configured_migrations_folder(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    settings = {"skills": {"migration-manager": {"migrationsDir": "db/changes"}}}
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(settings))
    (tmp_path / "db" / "changes").mkdir(parents=True)
    bad = tmp_path / "db" / "changes" / "20240101000000_bad.sql"
    bad.write_text("-- UP\nCREATE TABLE (;\n-- DOWN\nSELECT 1;\n")
    done = run_hook(tmp_path, bad)
    assert done.returncode == 2 and "20240101000000_bad.sql" in done.stderr


def test_settings_register_the_hook_and_approve_the_project_server() -> None:
    settings = json.loads((REPO / ".claude" / "settings.json").read_text())
    assert "migration-manager" in settings["enabledMcpjsonServers"]
    hook = settings["hooks"]["PostToolUse"][0]
    assert set(hook["matcher"].split("|")) >= {"Edit", "Write"}
    assert "validate_migration.py" in hook["hooks"][0]["command"]
