"""An online apply killed with SIGKILL during its backfill resumes from the checkpoint its history row recorded:
the next apply neither starts the backfill over nor skips a batch; complete then enforces NOT NULL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dbcheck import connect, execute, history, make_project, query, tables, wait_for, write_native
from migration_manager import service
from migration_manager.errors import HistoryConflict

ROWS = 4000

# The apply in a process of its own, its backfill slowed to 20-row batches so the test can kill it halfway.
SLOW_APPLY = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from migration_manager import service
    from migration_manager.strategies import batches, phases

    def slow(engine, table, key, run_range):
        step = batches.range_step(engine, table, key, run_range)
        return lambda after, size: (time.sleep(0.02), step(after, size))[1]

    phases.range_step = slow
    phases.PhaseRunner.policy = lambda self: batches.BatchPolicy(first_size=20, max_size=20)
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

    def halfway() -> dict | None:
        assert run.poll() is None, run.communicate()[1].decode()[-2000:]  # the apply died on its own: say why
        checkpoint = _checkpoint(server_url)
        return checkpoint if checkpoint and checkpoint["rows"] >= 200 else None

    at = wait_for(halfway, "a backfill checkpoint")
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    # One read of both: a COMMIT the killed client sent just before dying may still land after it (both move).
    filled, text = query(
        server_url,
        "SELECT (SELECT count(*) FROM users WHERE phone IS NOT NULL), checkpoint FROM schema_migrations",
    )[0]
    stopped = json.loads(text)
    assert stopped["rows"] >= at["rows"] and history(server_url)["1"][0] == "running"
    assert filled == stopped["rows"]  # each committed batch and its checkpoint committed together
    last = stopped["after"][0]
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


def test_an_unreadable_replica_stops_the_backfill_and_the_next_apply_resumes(mysql_url: str, tmp_path: Path) -> None:
    execute(mysql_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(mysql_url, "INSERT INTO users (id, name) VALUES " + ", ".join(f"({i}, 'u{i}')" for i in range(300)))
    # A "replica" that replicates from nothing: its lag cannot be read, so no batch may run (fail closed).
    project = make_project(tmp_path / "proj", mysql_url, autoBackup=False, online={"maxWaitSeconds": 0.5})
    settings = project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    config["skills"]["migration-manager"]["environments"]["dev"]["replicas"] = [mysql_url]
    settings.write_text(json.dumps(config))
    path = write_native(
        project, "1", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", None
    )
    path.write_text("-- strategy: online\n" + path.read_text())

    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert report.outcome == "failed"
    assert "cannot be read" in report.message and "SHOW SLAVE STATUS is empty" in report.message
    assert history(mysql_url)["1"][:2] == ("failed", 2)  # stopped at its backfill (step 3)
    assert query(mysql_url, "SELECT count(phone) FROM users") == [(0,)]

    assert report.failure_recovery == "resumable" and "`db-migrate apply` resumes it" in report.message
    status = service.status(service.TargetRequest(project_dir=project, env="dev"))
    assert status.next_action.startswith("db-migrate apply resumes 1 where its expand phase stopped (step 3)")
    with pytest.raises(HistoryConflict, match="not the strategy's steps"):
        service.resolve(service.ResolveRequest(project_dir=project, env="dev", version="1", action="retry"))

    undone = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
    assert undone.outcome == "done", undone.error
    assert history(mysql_url) == {} and query(mysql_url, "SELECT count(*) FROM users") == [(300,)]
    columns = (
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND column_name = 'phone'"
    )
    assert query(mysql_url, columns) == [(0,)]
    service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))  # stops again

    config["skills"]["migration-manager"]["environments"]["dev"]["replicas"] = []
    settings.write_text(json.dumps(config))
    assert service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True)).outcome == "done"
    assert history(mysql_url)["1"][0] == "expanded"
    assert query(mysql_url, "SELECT count(phone) FROM users") == [(300,)]


def test_a_user_who_cannot_read_lock_waits_stops_before_the_first_batch(mysql_user_url: str, tmp_path: Path) -> None:
    execute(mysql_user_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(mysql_user_url, "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')")
    project = make_project(tmp_path / "proj", mysql_user_url, autoBackup=False)
    path = write_native(
        project, "1", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", None
    )
    path.write_text("-- strategy: online\n" + path.read_text())
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert report.outcome == "failed" and "PROCESS privilege" in report.message  # failed closed, at once
    assert query(mysql_user_url, "SELECT count(phone) FROM users") == [(0,)]
    assert history(mysql_user_url)["1"][0] == "failed"


def test_a_complete_that_cannot_get_its_lock_stops_and_complete_resumes_it(server_url: str, tmp_path: Path) -> None:
    execute(server_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(server_url, "INSERT INTO users (id, name) VALUES " + ", ".join(f"({i}, 'u{i}')" for i in range(200)))
    project = make_project(tmp_path / "proj", server_url, autoBackup=False, ddlLockTimeoutMs=200, ddlLockRetries=0)
    path = write_native(
        project, "1", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", None
    )
    path.write_text("-- strategy: online\n" + path.read_text())
    assert service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True)).outcome == "done"

    holder = connect(server_url)  # an open transaction that read the table: NOT NULL must wait for it
    cursor = holder.cursor()
    cursor.execute("BEGIN")
    cursor.execute("SELECT count(*) FROM users")
    try:
        stopped = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
    finally:
        cursor.execute("ROLLBACK")
        holder.close()
    assert stopped.outcome == "failed"
    assert history(server_url)["1"][0] == "failed"
    status = service.status(service.TargetRequest(project_dir=project, env="dev"))
    assert status.next_action.startswith("db-migrate complete 1 resumes its contract phase")

    done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
    assert done.outcome == "done", done.error
    assert history(server_url)["1"][0] == "applied"
    assert query(server_url, "SELECT count(*) FROM users WHERE phone = 'x'") == [(200,)]


def test_a_step_that_queues_for_a_strong_lock_gives_up_after_the_online_lock_timeout(
    server_url: str, tmp_path: Path
) -> None:
    execute(server_url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(server_url, "INSERT INTO users (id, name) VALUES (1, 'a')")
    # ddlLockTimeoutMs would let it queue for a minute, every write behind it; online.lockTimeoutMs bounds it.
    project = make_project(
        tmp_path / "proj",
        server_url,
        autoBackup=False,
        ddlLockTimeoutMs=60_000,
        online={"lockTimeoutMs": 50, "lockRetries": 1},
    )
    path = write_native(
        project, "1", "phone", "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", None
    )
    path.write_text("-- strategy: online\n" + path.read_text())
    holder = connect(server_url)
    cursor = holder.cursor()
    cursor.execute("BEGIN")
    cursor.execute("SELECT count(*) FROM users")  # an open transaction: ADD COLUMN must wait for it
    try:
        report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    finally:
        cursor.execute("ROLLBACK")
        holder.close()
    assert report.outcome == "failed" and "lock" in report.message.lower()
    assert history(server_url)["1"][:2] == ("failed", 0)
    assert service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True)).outcome == "done"
