"""Blue-green on PostgreSQL with logical replication, on a private server started with wal_level=logical (the
shared one may not have it): a writer process keeps writing to whichever side `db-migrate url` names while
green is cloned, migrated, tested and switched to, and back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbcheck import apply_ok, execute, make_project, query, write_native
from logical_server import logical_postgres, server_binaries
from migration_manager import service
from migration_manager.config import BlueGreenState
from migration_manager.service import ApplyRequest
from migration_manager.strategies.blue_green import SwitchRequest, active_url, complete, prepare, switch
from migration_manager.surfaces.cli.app import main

WRITER = r"""
import sys, time
from pathlib import Path
import psycopg
from migration_manager.config import load_settings, resolve_target

project, log, stop = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1), Path(sys.argv[3])
conn, url, written = None, None, 0
while not stop.exists():
    written += 1
    while True:  # the same id until it is on some side: a write is never lost, nor made twice
        try:
            if conn is None:
                url = resolve_target(load_settings(project), project, "dev", None).url
                conn = psycopg.connect(url, autocommit=True, connect_timeout=2)
            conn.execute("INSERT INTO events (id, note) VALUES (%s, 'w')", [written])
            break
        except psycopg.errors.UniqueViolation:
            break  # committed, but the answer was lost with the session
        except psycopg.Error:
            conn = None if conn is None else conn.close()
            time.sleep(0.005)
    log.write(f"{written} {url.rsplit('/', 1)[1]}\n")
    time.sleep(0.002)
"""


@pytest.fixture(scope="session")
def logical_server() -> Iterator[str]:
    """A private PostgreSQL with wal_level=logical, stopped at the end of the session."""
    if server_binaries() is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    with logical_postgres() as url:
        yield url


@pytest.fixture
def blue_url(logical_server: str) -> Iterator[str]:
    name = f"bg_{uuid.uuid4().hex[:8]}"
    execute(f"{logical_server}/postgres", f"CREATE DATABASE {name}")
    try:
        yield f"{logical_server}/{name}"
    finally:
        _drop_with_replication(logical_server, [name, f"{name}_green"])


def _drop_with_replication(server: str, names: list[str]) -> None:
    """Subscriptions, slots, then the databases: a test that failed half-way leaves replication running."""
    for database in names:
        if not query(f"{server}/postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
            continue
        url = f"{server}/{database}"
        for (name,) in query(
            url,
            "SELECT subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid "
            "WHERE d.datname = current_database()",
        ):
            for sql in ("DISABLE", "SET (slot_name = NONE)"):
                execute(url, f"SET default_transaction_read_only = off; ALTER SUBSCRIPTION {name} {sql}")
            execute(url, f"SET default_transaction_read_only = off; DROP SUBSCRIPTION {name}")
    admin = f"{server}/postgres"
    for database in names:
        execute(
            admin,
            f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{database}' AND active",
        )
        time.sleep(0.1)
        execute(
            admin, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{database}'"
        )
        execute(admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


class Writer:
    def __init__(self, project: Path, folder: Path) -> None:
        self.log, self.stop_file = folder / "writes.txt", folder / "stop"
        script = folder / "writer.py"
        script.write_text(WRITER)
        self.process = subprocess.Popen([sys.executable, str(script), str(project), str(self.log), str(self.stop_file)])

    def writes(self) -> list[tuple[int, str]]:
        lines = self.log.read_text().split("\n") if self.log.exists() else []
        return [(int(i), side) for i, side in (line.split() for line in lines if line)]

    def wait_for_more(self, count: int, on: str | None = None) -> None:
        before = len(self.writes())
        deadline = time.monotonic() + 60
        while len([w for w in self.writes()[before:] if on is None or w[1] == on]) < count:
            assert self.process.poll() is None and time.monotonic() < deadline, "the writer stopped writing"
            time.sleep(0.02)

    def finish(self) -> list[tuple[int, str]]:
        self.stop_file.touch()
        self.process.wait(timeout=30)
        return self.writes()


def _ids(url: str) -> list[int]:
    return [r[0] for r in query(url, "SELECT id FROM events ORDER BY id")]


def test_blue_green_clone_migrate_switch_and_back_under_writes(
    blue_url: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(
        project,
        "1",
        "events",
        [
            "CREATE TABLE events (id bigint PRIMARY KEY, note text)",
            "CREATE TABLE orders (id serial PRIMARY KEY, v int)",
        ],
        None,
    )
    apply_ok(project)
    execute(blue_url, "INSERT INTO orders (v) SELECT g FROM generate_series(1, 5) g")
    green_url = blue_url + "_green"
    green_db, blue_db = green_url.rsplit("/", 1)[1], blue_url.rsplit("/", 1)[1]
    write_native(
        project,
        "2",
        "source",
        ["ALTER TABLE events ADD COLUMN source text", "CREATE INDEX events_note ON events (note)"],
        "ALTER TABLE events DROP COLUMN source",
    )
    writer = Writer(project, tmp_path)
    try:
        writer.wait_for_more(20)
        ready = prepare(ApplyRequest(project_dir=project, env="dev"))
        assert ready.outcome == "done", ready.message
        assert all(c.ok for c in ready.checks) and ready.ready_ms is not None
        assert query(green_url, "SELECT version FROM schema_migrations ORDER BY version") == [("1",), ("2",)]
        assert query(blue_url, "SELECT version FROM schema_migrations") == [("1",)]
        writer.wait_for_more(20, on=blue_db)  # blue serves during and after the preparation

        switched = switch(SwitchRequest(project_dir=project, env="dev"))
        assert switched.outcome == "done", switched.message
        assert switched.active == "green" and switched.freeze_ms is not None
        assert active_url(SwitchRequest(project_dir=project, env="dev")).url.endswith(green_db)
        described = service.status(service.TargetRequest(project_dir=project, env="dev")).blue_green
        assert (described.active, described.replicating) == ("green", "green -> blue")
        assert described.lag_bytes is not None and described.green.endswith(green_db)
        writer.wait_for_more(30, on=green_db)
        so_far = [i for i, _ in writer.writes()]
        on_green = _ids(green_url)
        assert set(so_far) <= set(on_green) and len(on_green) == len(set(on_green))  # every write, exactly once
        execute(green_url, "INSERT INTO orders (v) VALUES (6)")  # the sequence continues from blue's
        assert query(green_url, "SELECT max(id) FROM orders") == [(6,)]
        with pytest.raises(Exception, match="read-only"):
            execute(blue_url, "INSERT INTO events (id) VALUES (-1)")  # blue refuses writes after the switch

        assert main(["--project", str(project), "--env", "dev", "url"]) == 0
        assert capsys.readouterr().out.strip() == green_url  # what deploy scripts read

        assert main(["--project", str(project), "--env", "dev", "--json", "switch", "--back"]) == 0
        back = json.loads(capsys.readouterr().out)
        assert back["outcome"] == "done" and back["active"] == "blue", back["message"]
        writer.wait_for_more(20, on=blue_db)
    finally:
        writes = writer.finish()
    made_on_green = {i for i, side in writes if side == green_db}
    on_blue = _ids(blue_url)
    assert made_on_green and made_on_green <= set(on_blue)  # green's writes came back to blue
    assert {i for i, _ in writes} <= set(on_blue) and len(on_blue) == len(set(on_blue))
    assert query(blue_url, "SELECT max(id) FROM orders") == [(6,)]

    assert main(["--project", str(project), "--env", "dev", "--json", "--yes", "complete"]) == 0  # drops green
    done = json.loads(capsys.readouterr().out)
    assert done["action"] == "complete" and done["outcome"] == "done", done["message"]
    assert not BlueGreenState.path(project, "dev").exists()
    assert (
        query(f"{blue_url.rsplit('/', 1)[0]}/postgres", f"SELECT 1 FROM pg_database WHERE datname = '{green_db}'") == []
    )


def test_blue_green_refuses_what_replication_cannot_carry(blue_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(
        project, "1", "tables", ["CREATE TABLE keyed (id int PRIMARY KEY, a int)", "CREATE TABLE loose (a int)"], None
    )
    apply_ok(project)
    write_native(project, "2", "drop", "ALTER TABLE keyed DROP COLUMN a", None)

    report_or_error = pytest.raises(Exception)
    with report_or_error as refused:
        prepare(ApplyRequest(project_dir=project, env="dev"))
    message = str(refused.value.message)
    assert "table loose has no primary key or replica identity" in message
    assert "drop column keyed.a" in message and "Expand now, contract after `complete`" in message
    assert not BlueGreenState.path(project, "dev").exists()


def test_blue_green_says_when_wal_level_is_not_logical(pg_url: str, tmp_path: Path) -> None:
    if query(pg_url, "SHOW wal_level") == [("logical",)]:
        pytest.skip("the shared server has wal_level=logical")
    project = make_project(tmp_path / "proj", pg_url, autoBackup=False)
    write_native(project, "1", "t", "CREATE TABLE t (id int PRIMARY KEY)", None)
    with pytest.raises(Exception) as refused:
        prepare(ApplyRequest(project_dir=project, env="dev"))
    assert "wal_level is 'replica'" in refused.value.message and "CREATE DATABASE ... TEMPLATE" in refused.value.message


def test_switch_needs_approval_and_refuses_ddl_made_on_blue_during_the_window(blue_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url"', '"requireApproval": true, "url"'))
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY)", None)
    apply_ok(project)
    write_native(project, "2", "note", "ALTER TABLE events ADD COLUMN note text", None)
    assert prepare(ApplyRequest(project_dir=project, env="dev")).outcome == "done"

    asked = switch(SwitchRequest(project_dir=project, env="dev"))
    assert asked.outcome == "needs-approval" and asked.plan_id
    execute(blue_url, "ALTER TABLE events ADD COLUMN added_on_blue int")  # DDL during the window
    refused = switch(SwitchRequest(project_dir=project, env="dev", approved=True, approved_plan_id=asked.plan_id))
    assert refused.outcome == "failed" and "DDL during the window" in refused.message
    assert active_url(SwitchRequest(project_dir=project, env="dev")).active == "blue"
    execute(blue_url, "INSERT INTO events (id) VALUES (1)")  # blue was never frozen

    assert complete(SwitchRequest(project_dir=project, env="dev")).outcome == "needs-approval"
    done = complete(SwitchRequest(project_dir=project, env="dev", approved=True))
    assert done.outcome == "done" and "Green was dropped" in done.message
    assert active_url(SwitchRequest(project_dir=project, env="dev")).active is None


@pytest.mark.anyio
async def test_the_mcp_switch_tool_switches_and_returns_and_complete_ends_the_deployment(
    blue_url: str, tmp_path: Path
) -> None:
    import mcp_types as types

    from mcp import Client
    from migration_manager.surfaces.mcp.server import build_server

    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY)", None)
    apply_ok(project)
    write_native(project, "2", "note", "ALTER TABLE events ADD COLUMN note text", None)
    async with Client(build_server(project)) as client:
        ready = await client.call_tool("apply", {"env": "dev", "strategy": "blue-green"})  # migrates green
        assert not ready.is_error and ready.structured_content["outcome"] == "done"
        assert "Next: `db-migrate switch --env dev`" in ready.structured_content["message"]
        assert query(blue_url, "SELECT version FROM schema_migrations") == [("1",)]  # blue was not migrated
        there = await client.call_tool("switch", {"env": "dev"})
        assert not there.is_error and there.structured_content["active"] == "green"
        assert there.structured_content["green"].endswith("_green")
        back = await client.call_tool("switch", {"env": "dev", "back": True})
        unasked = await client.call_tool("complete", {"env": "dev"})  # this client shows no dialog
    assert not back.is_error and back.structured_content["active"] == "blue"
    assert back.structured_content["freeze_ms"] is not None
    assert unasked.is_error and "`db-migrate --env dev complete`" in unasked.content[0].text
    assert BlueGreenState.path(project, "dev").exists()  # nothing was dropped

    shown: list[str] = []

    async def human(context: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        shown.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with Client(build_server(project), elicitation_callback=human) as client:
        ended = await client.call_tool("complete", {"env": "dev"})  # ends the deployment, as the CLI's complete
    assert not ended.is_error and ended.structured_content["outcome"] == "done", ended.content[0].text
    assert "Green was dropped" in ended.structured_content["message"]
    assert (
        len(shown) == 1 and "Complete the blue-green deployment" in shown[0] and "drops the green database" in shown[0]
    )
    assert not BlueGreenState.path(project, "dev").exists()
    assert (
        query(f"{blue_url.rsplit('/', 1)[0]}/postgres", "SELECT 1 FROM pg_database WHERE datname LIKE '%_green'") == []
    )


@pytest.mark.anyio
async def test_service_apply_and_the_mcp_dry_run_with_blue_green_go_to_green(blue_url: str, tmp_path: Path) -> None:
    """No caller migrates blue by asking for blue-green: service.apply prepares green, the dry run shows green's."""
    from mcp import Client
    from migration_manager.surfaces.mcp.server import build_server

    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY)", None)
    apply_ok(project)
    write_native(project, "2", "note", "ALTER TABLE events ADD COLUMN note text", None)
    green_db = blue_url.rsplit("/", 1)[1] + "_green"
    async with Client(build_server(project)) as client:
        preview = await client.call_tool("dry_run", {"env": "dev", "strategy": "blue-green"})
    shown = preview.structured_content
    assert shown["outcome"] == "dry-run" and shown["database"].endswith(green_db), shown["message"]
    assert f"the statements shown run on green, {green_db}; blue is not migrated" in shown["message"]
    assert shown["migrations"][0]["strategy"]["note"].startswith("blue-green: the SQL as written, on the green copy")

    done = service.apply(ApplyRequest(project_dir=project, env="dev", strategy="blue-green"))
    assert done.outcome == "done" and done.database.endswith(green_db), done.message
    assert "Next: `db-migrate switch --env dev`" in done.message
    assert query(blue_url, "SELECT version FROM schema_migrations") == [("1",)]  # blue was not migrated
    assert query(blue_url + "_green", "SELECT version FROM schema_migrations ORDER BY version") == [("1",), ("2",)]
    assert complete(SwitchRequest(project_dir=project, env="dev", approved=True)).outcome == "done"


def test_a_switch_whose_replication_is_gone_lifts_the_freeze_and_complete_cleans_up(
    blue_url: str, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY)", None)
    apply_ok(project)
    write_native(project, "2", "note", "ALTER TABLE events ADD COLUMN note text", None)
    assert prepare(ApplyRequest(project_dir=project, env="dev")).outcome == "done"
    server = blue_url.rsplit("/", 1)[0]
    green = blue_url + "_green"  # replication stops behind the tool's back
    name = query(green, "SELECT subname FROM pg_subscription")[0][0]
    for sql in ("DISABLE", "SET (slot_name = NONE)"):
        execute(green, f"ALTER SUBSCRIPTION {name} {sql}")
    execute(green, f"DROP SUBSCRIPTION {name}")
    execute(f"{server}/postgres", f"SELECT pg_drop_replication_slot('{name}')")

    failed = switch(SwitchRequest(project_dir=project, env="dev"))
    assert failed.outcome == "failed" and "is gone" in failed.message
    execute(blue_url, "INSERT INTO events (id) VALUES (1)")  # the freeze was lifted
    assert active_url(SwitchRequest(project_dir=project, env="dev")).active == "blue"
    assert complete(SwitchRequest(project_dir=project, env="dev", approved=True)).outcome == "done"


def test_without_logical_replication_green_is_a_copy_of_a_frozen_blue(pg_url: str, tmp_path: Path) -> None:
    if query(pg_url, "SHOW wal_level") == [("logical",)]:
        pytest.skip("the shared server has wal_level=logical")
    project = make_project(tmp_path / "proj", pg_url, autoBackup=False)
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace('"url"', '"blueGreenWithoutReplication": "freeze-writes", "url"'))
    write_native(project, "1", "events", "CREATE TABLE events (id bigserial PRIMARY KEY, note text)", None)
    apply_ok(project)
    execute(pg_url, "INSERT INTO events (note) VALUES ('a'), ('b'), ('c')")
    write_native(project, "2", "source", "ALTER TABLE events ADD COLUMN source text", None)
    green = pg_url + "_green"
    try:
        ready = prepare(ApplyRequest(project_dir=project, env="dev"))
        assert ready.outcome == "done", ready.message
        assert any("freeze writes on blue until the switch" in s.name for s in ready.steps)
        with pytest.raises(Exception, match="read-only"):
            execute(pg_url, "INSERT INTO events (note) VALUES ('lost?')")  # the freeze is stated and real
        assert query(green, "SELECT count(*), count(source) FROM events") == [(3, 0)]

        switched = switch(SwitchRequest(project_dir=project, env="dev"))
        assert switched.outcome == "done" and "from the copy to this switch" in switched.message
        execute(green, "INSERT INTO events (note) VALUES ('d')")
        assert query(green, "SELECT max(id) FROM events") == [(4,)]
        with pytest.raises(Exception, match="cannot switch back"):
            switch(SwitchRequest(project_dir=project, env="dev", back=True))
    finally:
        execute(
            pg_url.rsplit("/", 1)[0] + "/postgres", f"DROP DATABASE IF EXISTS {green.rsplit('/', 1)[1]} WITH (FORCE)"
        )


def test_a_migration_failing_on_green_drops_green_and_its_replication(blue_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", blue_url, autoBackup=False)
    write_native(project, "1", "events", "CREATE TABLE events (id bigint PRIMARY KEY)", None)
    apply_ok(project)
    execute(blue_url, "INSERT INTO events VALUES (1)")
    write_native(project, "2", "duplicate", "INSERT INTO events VALUES (1)", None)  # passes validation, fails

    failed = prepare(ApplyRequest(project_dir=project, env="dev"))

    assert failed.outcome == "failed" and "Migrating green failed" in failed.message
    server = blue_url.rsplit("/", 1)[0] + "/postgres"
    assert query(server, f"SELECT 1 FROM pg_database WHERE datname = '{blue_url.rsplit('/', 1)[1]}_green'") == []
    assert query(server, "SELECT slot_name FROM pg_replication_slots") == []
    assert query(blue_url, "SELECT pubname FROM pg_publication") == []
    assert not BlueGreenState.path(project, "dev").exists()
    assert query(blue_url, "SELECT version FROM schema_migrations") == [("1",)]
