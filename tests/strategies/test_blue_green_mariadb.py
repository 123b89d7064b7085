"""Blue-green on MariaDB, replaying the binary log, on a private server started with log_bin and binlog_format=ROW:
a writer process keeps writing to whichever side `db-migrate url` names while green is copied, migrated, tested
and switched to, and back."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbcheck import apply_ok, execute, make_project, query, write_native
from logical_server import binlog_mariadb
from migration_manager.config import BlueGreenState
from migration_manager.service import ApplyRequest
from migration_manager.strategies.blue_green import SwitchRequest, active_url, complete, prepare, switch

WRITER = r"""
import sys, time
from pathlib import Path
import pymysql
from migration_manager.config import load_settings, resolve_target
from migration_manager.urls import parse_url

project, log, stop = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1), Path(sys.argv[3])
conn, url, written = None, None, 0
while not stop.exists():
    written += 1
    while True:  # the same id until it is on some side: a write is never lost, nor made twice
        try:
            if conn is None:
                url = resolve_target(load_settings(project), project, "dev", None).url
                p = parse_url(url)
                conn = pymysql.connect(host=p.host, port=p.port, user=p.user, database=p.database, autocommit=True)
            conn.cursor().execute("INSERT INTO events (id, note) VALUES (%s, 'w')", [written])
            break
        except pymysql.err.IntegrityError:
            break  # committed, but the answer was lost with the session
        except pymysql.err.MySQLError:
            conn = None
            time.sleep(0.005)
    log.write(f"{written} {url.rsplit('/', 1)[1]}\n")
    time.sleep(0.002)
"""


@pytest.fixture(scope="module")
def binlog_server() -> Iterator[str]:
    try:
        with binlog_mariadb() as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def blue_url(binlog_server: str) -> Iterator[str]:
    name = f"bg_{uuid.uuid4().hex[:8]}"
    execute(f"{binlog_server}/mysql", f"CREATE DATABASE {name}")
    try:
        yield f"{binlog_server}/{name}"
    finally:
        for database in (name, f"{name}_green"):
            execute(f"{binlog_server}/mysql", f"DROP DATABASE IF EXISTS {database}")


def _ids(url: str) -> list[int]:
    return [r[0] for r in query(url, "SELECT id FROM events ORDER BY id")]


def _wait_for_more(log: Path, process: subprocess.Popen, count: int, on: str) -> None:
    def writes() -> list[str]:
        return [line.split()[1] for line in log.read_text().splitlines() if line] if log.exists() else []

    before, deadline = len(writes()), time.monotonic() + 60
    while sum(1 for side in writes()[before:] if side == on) < count:
        assert process.poll() is None and time.monotonic() < deadline, "the writer stopped writing"
        time.sleep(0.02)


def test_mariadb_blue_green_replays_the_binlog_under_writes(blue_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY, note text)", None)
    apply_ok(project)
    write_native(project, "2", "source", "ALTER TABLE events ADD COLUMN source text", None)
    blue_db = blue_url.rsplit("/", 1)[1]
    green_db, green_url = f"{blue_db}_green", f"{blue_url}_green"
    log, stop, script = tmp_path / "writes.txt", tmp_path / "stop", tmp_path / "writer.py"
    script.write_text(WRITER)
    writer = subprocess.Popen([sys.executable, str(script), str(project), str(log), str(stop)])
    try:
        _wait_for_more(log, writer, 20, blue_db)
        ready = prepare(ApplyRequest(project_dir=project, env="dev"))
        assert ready.outcome == "done", ready.message
        assert query(green_url, "SELECT version FROM schema_migrations ORDER BY version") == [("1",), ("2",)]
        _wait_for_more(log, writer, 20, blue_db)

        switched = switch(SwitchRequest(project_dir=project, env="dev"))
        assert switched.outcome == "done", switched.message
        assert active_url(SwitchRequest(project_dir=project, env="dev")).active == "green"
        _wait_for_more(log, writer, 30, green_db)
        so_far = {int(line.split()[0]) for line in log.read_text().splitlines()}
        on_green = _ids(green_url)
        assert so_far <= set(on_green) and len(on_green) == len(set(on_green))  # every write, exactly once
        with pytest.raises(Exception, match="frozen by db-migrate switch"):
            execute(blue_url, "INSERT INTO events (id) VALUES (-1)")

        back = switch(SwitchRequest(project_dir=project, env="dev", back=True))
        assert back.outcome == "done", back.message
        _wait_for_more(log, writer, 20, blue_db)
    finally:
        stop.touch()
        writer.wait(timeout=30)
    writes = [line.split() for line in log.read_text().splitlines()]
    made_on_green = {int(i) for i, side in writes if side == green_db}
    on_blue = _ids(blue_url)
    assert made_on_green and made_on_green <= set(on_blue)  # green's writes came back to blue
    assert {int(i) for i, _ in writes} <= set(on_blue) and len(on_blue) == len(set(on_blue))
    assert complete(SwitchRequest(project_dir=project, env="dev", approved=True)).outcome == "done"
    assert not BlueGreenState.path(project, "dev").exists()
