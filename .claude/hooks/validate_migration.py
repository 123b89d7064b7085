#!/usr/bin/env python3
"""Claude Code PostToolUse hook: validate a migration file right after Claude edits it.

Reads the hook event (JSON on stdin). When the edited file is in the project's migrations
folder (`migrationsDir` from .claude/settings(.local).json, default `migrations/`), runs
`db-migrate validate --json` in the project and, if a check failed or a finding is an error or a
danger (a migration that would fail, or lose data, on the live database), exits 2 so Claude Code
shows them to Claude (the edit itself is not undone). Anything else: exit 0, silently.
Standard library only: it must run before the project's virtualenv exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

VALIDATE_TIMEOUT_S = 120


def migrations_dir(project: Path) -> Path:
    folder = "migrations"
    for name in ("settings.json", "settings.local.json"):  # the local file wins, as in db-migrate
        try:
            settings = json.loads((project / ".claude" / name).read_text())
        except (OSError, ValueError):
            continue
        folder = settings.get("skills", {}).get("migration-manager", {}).get("migrationsDir", folder)
    return (project / folder).resolve()


def is_migration(path: str, project: Path) -> bool:
    return Path(path).resolve().is_relative_to(migrations_dir(project))


def db_migrate(project: Path) -> str | None:
    local = project / ".venv" / "bin" / "db-migrate"
    return str(local) if local.exists() else shutil.which("db-migrate")


def main() -> int:
    try:
        event = json.load(sys.stdin)
    except ValueError:
        return 0
    project = Path(os.environ.get("CLAUDE_PROJECT_DIR") or event.get("cwd") or ".")
    path = (event.get("tool_input") or {}).get("file_path") or ""
    if not path or not is_migration(path, project):
        return 0
    exe = db_migrate(project)
    if exe is None:
        print("migration-manager: db-migrate is not installed; skipped validation.", file=sys.stderr)
        return 0
    try:
        done = subprocess.run(
            [exe, "validate", "--json"], cwd=project, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        print(f"migration-manager: validate took over {VALIDATE_TIMEOUT_S}s; run it by hand.", file=sys.stderr)
        return 0
    problems = problems_in(done)
    if not problems:
        return 0
    # exit 2: Claude Code feeds stderr back to Claude, which then reports and fixes the findings
    print(f"db-migrate validate found problems after editing {path}:\n{problems}", file=sys.stderr)
    return 2


def problems_in(done: subprocess.CompletedProcess) -> str:
    """What Claude must hear: failed checks, error and danger findings, or why validate itself failed.
    A validate that passes can still carry a danger finding (a UNIQUE over duplicate rows): it is told too."""
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    if "checks" not in report:  # validate did not run: an error object (configuration, database), or a crash
        if done.returncode == 0:
            return ""
        error = report if "message" in report else {"message": (done.stdout + done.stderr).strip()}
        return "\n".join(str(error[k]) for k in ("message", "state", "next_step") if error.get(k))
    lines = [f"  FAILED {c['name']}: {c['detail']}" for c in report["checks"] if not c["ok"]]
    for f in report.get("findings", []):
        if f["severity"] in ("error", "danger"):
            where = f"{f.get('migration') or ''} statement {f.get('statement_index')}".strip()
            lines.append(f"  {f['severity']} {f['rule']} ({where}): {f['message']}")
            lines += [f"    fix: {f['recommendation']}"] if f.get("recommendation") else []
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
