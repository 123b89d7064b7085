"""The strategies' tests run on PostgreSQL and MariaDB (SQLite refuses every strategy but offline)."""

import pytest


@pytest.fixture(params=["postgres", "mysql"])
def server_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue({"postgres": "pg_url", "mysql": "mysql_url"}[request.param])
