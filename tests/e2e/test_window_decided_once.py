"""The maintenance window is decided once, in the service, and said in the plan and in the status: a surface that
asks a human shows a closed window without reading the settings itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from migration_manager import service


def project(root: Path, window: str | None) -> Path:
    env = {"url": f"sqlite:///{root / 'ops.db'}", **({"maintenanceWindow": window} if window else {})}
    (root / ".claude").mkdir(parents=True)
    settings = {"skills": {"migration-manager": {"environments": {"ops": env}}}}
    (root / ".claude" / "settings.json").write_text(json.dumps(settings))
    (root / "migrations").mkdir()
    (root / "migrations" / "20240101000000_t.sql").write_text(
        "-- UP\nCREATE TABLE t (id integer);\n-- DOWN\nDROP TABLE t;\n"
    )
    return root


def test_a_closed_window_is_in_the_plan_and_the_status(tmp_path: Path) -> None:
    opens = datetime.now(UTC) + timedelta(hours=12)
    closed = project(tmp_path / "closed", f"{opens:%H:%M}-{opens + timedelta(minutes=1):%H:%M} UTC")
    plan = service.apply(service.ApplyRequest(project_dir=closed, env="ops", dry_run=True))
    status = service.status(service.TargetRequest(project_dir=closed, env="ops"))
    assert plan.window_open is False and status.window_open is False
    assert status.maintenance_window == plan.maintenance_window


def test_no_window_is_none_and_a_window_not_understood_leaves_status_answering(tmp_path: Path) -> None:
    free = project(tmp_path / "free", None)
    assert service.status(service.TargetRequest(project_dir=free, env="ops")).window_open is None
    odd = project(tmp_path / "odd", "whenever")
    assert service.status(service.TargetRequest(project_dir=odd, env="ops")).window_open is None
