"""`make demo` runs scripts/demo.sh: it must finish on a fresh machine and tell its story."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_the_whole_story_and_cleans_up(tmp_path):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    assert done.returncode == 0, out + done.stderr
    steps = [line[2:] for line in out.splitlines() if line.startswith("$ ")]
    assert [s.split("  #")[0] for s in steps] == [
        "db-migrate create create_users",
        "db-migrate create add_user_phone",
        "db-migrate validate",
        "db-migrate apply --dry-run",
        "db-migrate apply",
        "db-migrate backup list",
        "db-migrate create unique_email",
        "db-migrate analyze",
        "db-migrate apply",
        "db-migrate create unique_email",
        "db-migrate analyze",
        "db-migrate apply",
        "db-migrate status",
        "db-migrate rollback --yes",
        "db-migrate status",
    ]
    assert "Result: SAFE TO APPLY" in out and "Applied 2 migration(s)." in out
    assert "1 backup(s) in" in out
    # the data-aware finding, with the numbers of the seeded rows and the query that lists them
    assert "danger unique-duplicates" in out and "1 duplicate key value(s) held by 2 rows" in out
    assert 'GROUP BY "email" HAVING COUNT(*) > 1' in out
    analyses = [chunk for chunk in out.split("$ db-migrate analyze")[1:]]
    assert "no findings" in analyses[1].split("$ ")[0]  # after the fix
    assert "Rolled back 1 migration(s)." in out and "Demo complete." in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("migration-manager-demo")]  # folder removed
