"""Real clients, not only our own: the Claude Code CLI and the MCP Inspector CLI from ./node_modules.

They need neither a login nor the internet for these commands. Each runs with a throwaway HOME so
nothing touches the developer's own Claude Code configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp_helpers import (
    REPO,
    TOKEN,
    http_server,
    make_project,
    node_tool,
    sqlite_tables,
    wait_listening,
    write_migration,
)

PLUGIN_FILES = [
    "SKILL.md",
    "skill_resources",
    ".claude",
    ".claude-plugin",
    ".mcp.json",
    "plugin",
    "pyproject.toml",
    "README.md",
]


def client_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_COLOR": "1",
    }


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def clone_plugin_files(source: Path) -> None:
    """What a user's clone holds of the repository that the plugin needs: its files and the package source."""
    source.mkdir()
    for name in PLUGIN_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True)
        else:
            shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "server", source / "server", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))


def without_our_python(path: str) -> str:
    """PATH without this repository's virtualenv: the package is not installed anywhere the plugin can see."""
    venv = Path(sys.prefix).resolve()
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and not Path(p).resolve().is_relative_to(venv))


def test_installed_plugin_installs_its_own_server_and_connects(tmp_path: Path) -> None:
    claude = node_tool("claude")
    source = tmp_path / "migration-manager"  # a clone, as a user has it: no .venv, package not installed
    clone_plugin_files(source)
    env = client_env(tmp_path / "home")
    run([str(claude), "plugin", "validate", str(source)], env, tmp_path)
    run([str(claude), "plugin", "marketplace", "add", str(source)], env, tmp_path)
    run([str(claude), "plugin", "install", "sc@migration-manager"], env, tmp_path)
    details = run([str(claude), "plugin", "details", "sc@migration-manager"], env, tmp_path).stdout
    skills = next(line for line in details.splitlines() if line.strip().startswith("Skills ("))
    servers = next(line for line in details.splitlines() if line.strip().startswith("MCP servers ("))
    assert {"migration-manager", "db-migrate", "migration"} <= set(skills.split(")", 1)[1].replace(",", " ").split())
    assert "MCP servers (1)" in servers and "migration-manager" in servers
    plugins = tmp_path / "home" / ".claude" / "plugins"
    cached = sum(f.stat().st_size for f in (plugins / "cache").rglob("*") if f.is_file())
    assert cached < 2_000_000, (
        "the plugin install copies the plugin/ folder (with the package source), not the repository"
    )
    assert list((plugins / "cache").rglob("python/server/migration_manager/surfaces/mcp/server.py")), (
        "the package source is bundled"
    )
    # The first start makes a virtualenv in the plugin's data folder and installs the bundled package
    # there (pip, about a minute: more than Claude Code's default 30 s connect timeout, see docs/troubleshooting.md).
    env["PATH"] = without_our_python(env["PATH"])
    assert shutil.which("migration-manager-mcp", path=env["PATH"]) is None
    env["MCP_TIMEOUT"] = "300000"
    project = make_project(tmp_path / "someproject", {"dev": {"url": f"sqlite:///{tmp_path / 'dev.db'}"}})
    listed = run([str(claude), "mcp", "list"], env, project, timeout=400).stdout
    line = next(line for line in listed.splitlines() if line.startswith("plugin:sc:migration-manager:"))
    assert "Connected" in line, listed
    installed = list((plugins / "data").glob("*/env-*/bin/python"))
    assert len(installed) == 1, list((plugins / "data").rglob("*"))
    # later starts reuse it
    listed = run([str(claude), "mcp", "list"], env, project).stdout
    assert "Connected" in next(line for line in listed.splitlines() if line.startswith("plugin:sc:migration-manager:"))
    assert list((plugins / "data").glob("*/env-*/bin/python")) == installed
    # the install built from a copy: the plugin's files are as shipped (pip would add build/ and *.egg-info)
    assert not [p for p in (source / "server").iterdir() if p.name.endswith(".egg-info")]
    assert not (source / "plugin" / "python" / "build").exists()


def test_plugin_launcher_says_what_to_install_without_python_3_11(tmp_path: Path) -> None:
    tools = tmp_path / "bin"  # a PATH with a shell and the utilities, but no Python at all
    tools.mkdir()
    for tool in ("sh", "dirname", "cat", "find", "sort", "xargs", "cksum", "cut", "mkdir"):
        (tools / tool).symlink_to(shutil.which(tool))
    plugin = tmp_path / "plugin"
    clone_plugin_files(tmp_path / "clone")
    shutil.copytree(tmp_path / "clone" / "plugin", plugin, symlinks=False)
    done = subprocess.run(
        [str(tools / "sh"), str(plugin / "bin" / "migration-manager-mcp")],
        env={"PATH": str(tools), "CLAUDE_PLUGIN_DATA": str(tmp_path / "data"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # stdout is the MCP channel
    assert done.stderr.strip().splitlines() == [
        "migration-manager: Python 3.11 or newer is needed to start the MCP server; install it "
        "(e.g. apt-get install python3 python3-venv) and restart Claude Code."
    ]


def main_checkout() -> Path:
    common = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=REPO, capture_output=True, text=True
    )
    return Path(common.stdout.strip()).parent if common.returncode == 0 else REPO


def test_claude_mcp_list_reports_the_project_server_connected(tmp_path: Path) -> None:
    claude = node_tool("claude")
    env = client_env(tmp_path / "home")
    # The human trusted this folder once (Claude Code's trust dialog); from then on the project's own
    # .claude/settings.json approves the server it ships in .mcp.json.
    # Claude Code keys a git worktree by its main checkout, so trust both.
    trusted = {str(folder): {"hasTrustDialogAccepted": True} for folder in (REPO, main_checkout())}
    (tmp_path / "home" / ".claude.json").write_text(json.dumps({"projects": trusted}))
    listed = run([str(claude), "mcp", "list"], env, REPO).stdout
    line = next(line for line in listed.splitlines() if line.startswith("migration-manager:"))
    assert "Connected" in line, listed


def test_claude_connects_over_http_only_with_the_bearer_token(sqlite_project: Path, tmp_path: Path) -> None:
    claude = node_tool("claude")
    env = client_env(tmp_path / "home")
    with http_server(sqlite_project, TOKEN) as (proc, port):
        wait_listening(proc, port)
        url = f"http://127.0.0.1:{port}/mcp"
        run(
            [
                str(claude),
                "mcp",
                "add",
                "--transport",
                "http",
                "with-token",
                url,
                "--header",
                f"Authorization: Bearer {TOKEN}",
            ],
            env,
            tmp_path,
        )
        run([str(claude), "mcp", "add", "--transport", "http", "without-token", url], env, tmp_path)
        listed = run([str(claude), "mcp", "list"], env, tmp_path).stdout
    lines = {line.split(":")[0]: line for line in listed.splitlines() if ": http" in line}
    assert "Connected" in lines["with-token"], listed
    assert "Connected" not in lines["without-token"] and "401" in lines["without-token"], listed


@pytest.fixture
def inspector_project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "proj", {"dev": {"url": f"sqlite:///{tmp_path / 'dev.db'}"}})
    write_migration(project, "20240101000000", "create_users", "CREATE TABLE users (id integer)", "DROP TABLE users")
    return project


def inspector(args: list[str], project: Path, home: Path, *, ok: bool = True) -> dict:
    tool = node_tool("inspector")
    launcher = REPO / ".claude" / "bin" / "migration-manager-mcp"
    command = [str(tool), "--cli", str(launcher), "--project-dir", str(project), *args]
    if ok:
        done = run(command, client_env(home), project)
    else:  # the Inspector exits non-zero when the tool reports an error
        done = subprocess.run(command, env=client_env(home), cwd=project, capture_output=True, text=True, timeout=180)
    return json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{") :])[0]


def test_inspector_lists_the_tools(inspector_project: Path, tmp_path: Path) -> None:
    listed = inspector(["--method", "tools/list"], inspector_project, tmp_path / "home")
    tools = {t["name"]: t for t in listed["tools"]}
    assert {"status", "create", "validate", "analyze", "dry_run", "apply", "rollback", "compare"} <= set(tools)
    assert tools["apply"]["annotations"]["destructiveHint"] is True
    assert tools["status"]["annotations"]["readOnlyHint"] is True


def test_inspector_calls_status(inspector_project: Path, tmp_path: Path) -> None:
    called = inspector(
        ["--method", "tools/call", "--tool-name", "status", "--tool-arg", "env=dev"],
        inspector_project,
        tmp_path / "home",
    )
    assert called.get("isError") in (None, False), called
    report = called["structuredContent"]
    assert report["environment"] == "dev"
    assert [m["version"] for m in report["pending"]] == ["20240101000000"]


def test_inspector_cannot_apply_to_production_without_a_human(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "proj", {"prod": {"url": f"sqlite:///{tmp_path / 'prod.db'}", "requireApproval": True}}
    )
    write_migration(project, "20240101000000", "create_users", "CREATE TABLE users (id integer)", "DROP TABLE users")
    called = inspector(
        ["--method", "tools/call", "--tool-name", "apply", "--tool-arg", "env=prod"],
        project,
        tmp_path / "home",
        ok=False,
    )
    assert called["isError"] is True
    assert "cannot show an approval dialog" in called["content"][0]["text"]
    assert "db-migrate --env prod apply" in called["content"][0]["text"]
    assert not (tmp_path / "prod.db").exists() or "users" not in sqlite_tables(tmp_path / "prod.db")
