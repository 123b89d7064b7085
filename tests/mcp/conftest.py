"""Fixtures for the MCP tests (helpers live in mcp_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_helpers import ADD_PHONE, CREATE_USERS, Dialogs, make_project, write_migration


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Path:
    """dev (free) and prod (requireApproval) on two SQLite files, with two pending migrations."""
    project = make_project(
        tmp_path / "proj",
        {
            "dev": {"url": f"sqlite:///{tmp_path / 'dev.db'}"},
            "prod": {"url": f"sqlite:///{tmp_path / 'prod.db'}", "requireApproval": True},
        },
    )
    write_migration(project, "20240101000000", "create_users", *CREATE_USERS)
    write_migration(project, "20240102000000", "add_phone", *ADD_PHONE)
    return project


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str) -> Path:
    """One PostgreSQL environment 'staging' (throwaway database) that requires approval."""
    return make_project(tmp_path / "proj", {"staging": {"url": pg_url, "requireApproval": True}})


@pytest.fixture
def approve() -> Dialogs:
    return Dialogs("accept")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
