"""Every command that writes history goes through apply's gate: baseline and resolve respect the
maintenance window (--outside-window overrides it) and requireApproval, and a refused one creates nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dbcheck import Project, history, query, tables
from migration_manager import service
from migration_manager.errors import ApprovalRequired


def closed_window() -> str:
    opens = datetime.now(UTC) + timedelta(hours=12)  # a one-minute window, half a day away
    return f"{opens:%H:%M}-{opens + timedelta(minutes=1):%H:%M} UTC"


def gated_project(project: Project, url: str, **environment) -> Path:
    project.configure({"autoBackup": False, "environments": {"dev": {"url": url, **environment}}})
    project.native("1", "add_a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "add_b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    return project.root


def test_baseline_waits_for_the_maintenance_window(any_url: str, project: Project) -> None:
    root = gated_project(project, any_url, maintenanceWindow=closed_window())
    with pytest.raises(ApprovalRequired) as refused:
        service.baseline(service.BaselineRequest(project_dir=root, env="dev", version="2"))
    assert "only changes inside its maintenance window" in refused.value.message
    assert refused.value.state == "Nothing was changed."
    assert tables(any_url) == set()  # not even the history tables

    report = service.baseline(service.BaselineRequest(project_dir=root, env="dev", version="2", outside_window=True))
    assert report.outcome == "done", report.message
    assert {v: row[0] for v, row in history(any_url).items()} == {"1": "applied", "2": "applied"}
    assert "a" not in tables(any_url)  # recorded, not run


def test_baseline_on_a_require_approval_environment_creates_nothing_until_approved(
    any_url: str, project: Project
) -> None:
    root = gated_project(project, any_url, requireApproval=True)
    asked = service.baseline(service.BaselineRequest(project_dir=root, env="dev", version="1"))
    assert asked.outcome == "needs-approval" and asked.needs_approval
    assert asked.approval_reasons == ["environment 'dev' requires approval (requireApproval)"]
    assert tables(any_url) == set()
    done = service.baseline(
        service.BaselineRequest(project_dir=root, env="dev", version="1", approved=True, approved_plan_id=asked.plan_id)
    )
    assert done.outcome == "done" and list(history(any_url)) == ["1"]


def test_resolve_waits_for_the_maintenance_window(any_url: str, project: Project) -> None:
    root = gated_project(project, any_url)
    service.apply(service.ApplyRequest(project_dir=root, env="dev", to_version="1"))
    recorded = history(any_url)["1"][3]
    project.native("1", "add_a", "CREATE TABLE a (id integer, note text);", "DROP TABLE a;")  # an intended edit
    project.configure(
        {"autoBackup": False, "environments": {"dev": {"url": any_url, "maintenanceWindow": closed_window()}}}
    )
    request = service.ResolveRequest(project_dir=root, env="dev", version="1", action="accept-checksum")
    with pytest.raises(ApprovalRequired):
        service.resolve(request)
    assert history(any_url)["1"][3] == recorded
    assert query(any_url, "SELECT count(*) FROM schema_migrations_log WHERE action = 'accept-checksum'") == [(0,)]

    done = service.resolve(request.model_copy(update={"outside_window": True}))
    assert done.outcome == "done" and history(any_url)["1"][3] != recorded


def test_cli_baseline_names_the_override(sqlite_url: str, project: Project) -> None:
    gated_project(project, sqlite_url, maintenanceWindow=closed_window())
    refused = project.run("--env", "dev", "baseline", "--to", "1", "--yes", "--json")
    assert refused.returncode != 0
    assert "maintenance window" in json.loads(refused.stdout)["message"]
    assert tables(sqlite_url) == set()
    done = project.run("--env", "dev", "baseline", "--to", "1", "--outside-window", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(history(sqlite_url)) == ["1"]
