"""A client that abandons an `apply` (notifications/cancelled) stops it at the next safe point: what
completed stays applied, the running migration finishes (per-statement) or rolls back (transaction),
nothing is left dirty, and the report of what was done is kept as a resource."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

import dbcheck
from mcp import Client
from migration_manager.surfaces.mcp.server import build_server

pytestmark = pytest.mark.anyio
MANY = 200
SLEEP = {"postgres": "SELECT pg_sleep(0.03)", "mysql": "SELECT SLEEP(0.03)"}


def slow_project(tmp_path: Path, url: str) -> Path:
    project = dbcheck.make_project(tmp_path / "proj", url, autoBackup=False)
    for i in range(MANY):
        dbcheck.write_native(
            project,
            f"2024010100{i:04d}",
            f"slow_{i}",
            [f"CREATE TABLE t{i} (id integer)", SLEEP[dbcheck.kind(url)], f"INSERT INTO t{i} VALUES (1)"],
            f"DROP TABLE t{i}",
        )
    return project


async def reports(client: Client) -> list[dict]:
    return json.loads((await client.read_resource("migrations://reports")).contents[0].text)


@pytest.mark.parametrize("server", ["postgres", "mysql"])
async def test_a_cancelled_apply_stops_cleanly_and_says_what_it_did(
    tmp_path: Path, server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue({"postgres": "pg_url", "mysql": "mysql_url"}[server])
    project = slow_project(tmp_path, url)
    async with Client(build_server(project)) as client:
        with anyio.move_on_after(3):  # the client gives up: it sends notifications/cancelled
            await client.call_tool("apply", {"env": "dev"})
        with anyio.fail_after(60):  # the server stops at its next safe point, then keeps the report
            while not await reports(client):
                await anyio.sleep(0.2)
        kept = await reports(client)
        report = json.loads((await client.read_resource(kept[0]["uri"])).contents[0].text)
    history = dbcheck.history(url)
    applied = sorted(v for v, row in history.items() if row[0] == "applied")
    assert 0 < len(applied) < MANY and len(history) == len(applied)  # nothing dirty, nothing half-recorded
    assert dbcheck.user_tables(url) == {f"t{int(v[-4:])}" for v in applied}  # the running one was undone
    for version in applied:
        assert dbcheck.query(url, f"SELECT count(*) FROM t{int(version[-4:])}") == [(1,)]
    assert kept[0]["headline"].startswith("cancelled by the client: Stopped on request before finishing")
    assert report["error"]["error"] == "cancelled" and f"{len(applied)} of the {MANY}" in report["message"]
    assert [m["version"] for m in report["migrations"] if m["status"] == "applied"] == applied
    assert report["failure_recovery"] is None  # a cancel keeps what completed: autoOnFailure is for failures
    assert "failed" not in {row[0] for row in history.values()}
