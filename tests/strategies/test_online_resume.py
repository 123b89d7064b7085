"""An online apply killed with SIGKILL during its backfill resumes from the checkpoint its history row recorded:
the next apply neither starts the backfill over nor skips a batch; complete then enforces NOT NULL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from dbcheck import execute, history, make_project, query, tables, wait_for, write_native
from migration_manager import service

ROWS = 4000

# The apply in a process of its own, its backfill slowed to 20-row batches so the test can kill it halfway.
SLOW_APPLY = textwrap.dedent(
    """
    import sys, time
    from functools import partial
    from pathlib import Path
    from migration_manager import service
    from migration_manager.strategies import batches, phases

    def slow(engine, table, key, run_range):
        step = batches.range_step(engine, table, key, run_range)
        return lambda after, size: (time.sleep(0.02), step(after, size))[1]

    phases.range_step = slow
    phases.run_in_batches = partial(batches.run_in_batches, policy=batches.BatchPolicy(first_size=20, max_size=20))
    service.apply(service.ApplyRequest(project_dir=Path(sys.argv[1]), env="dev", approved=True))
    """
)


def _checkpoint(url: str) -> dict | None:
    if "schema_migrations" not in tables(url):
        return None
    try:
        found = query(url, "SELECT checkpoint FROM schema_migrations WHERE version = '1'")
    except Exception:  # noqa: BLE001 - the strategy columns are not added yet
        return None
    return json.loads(found[0][0]) if found and found[0][0] else None


def test_a_killed_backfill_resumes_from_its_checkpoint(server_url: str, tmp_path: Path) -> None:
    execute(server_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(server_url, "INSERT INTO users (id, name) VALUES " + ", ".join(f"({i}, 'u{i}')" for i in range(ROWS)))
    project = make_project(tmp_path / "proj", server_url, autoBackup=False)
    path = write_native(
        project, "1", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", None
    )
    path.write_text("-- strategy: online\n" + path.read_text())

    run = subprocess.Popen([sys.executable, "-c", SLOW_APPLY, str(project)], stderr=subprocess.PIPE)
    at = wait_for(lambda: (c := _checkpoint(server_url)) and c["rows"] >= 200 and c, "a backfill checkpoint")
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    stopped = _checkpoint(server_url)
    assert stopped["rows"] >= at["rows"] and history(server_url)["1"][0] == "running"
    last = stopped["after"][0]
    filled = query(server_url, "SELECT count(*) FROM users WHERE phone IS NOT NULL")[0][0]
    assert filled == stopped["rows"]  # each committed batch and its checkpoint committed together
    # A row the first run had filled is emptied: a resumed backfill starts after the checkpoint and leaves it.
    execute(server_url, "UPDATE users SET phone = NULL WHERE id = 0")

    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert report.outcome == "done", report.error
    assert history(server_url)["1"][0] == "expanded"
    assert query(server_url, "SELECT id FROM users WHERE phone IS NULL") == [(0,)]
    assert query(server_url, f"SELECT count(*) FROM users WHERE id > {last} AND phone = 'x'") == [(ROWS - 1 - last,)]

    done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
    assert done.outcome == "done", done.error
    assert query(server_url, "SELECT count(*) FROM users WHERE phone = 'x'") == [(ROWS,)]
    assert history(server_url)["1"][0] == "applied"
