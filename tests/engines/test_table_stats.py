"""Row estimates from catalog statistics, before and after the table was ever analysed: a table loaded a
moment ago is not empty (its estimate decides sampling, the large-table severity and the rewrite message)."""

from __future__ import annotations

import pytest

from dbcheck import execute, query, wait_for
from migration_manager.dialects import open_engine


@pytest.mark.postgres
def test_postgres_estimate_of_a_never_analysed_table_counts_its_inserts(pg_url: str) -> None:
    execute(pg_url, "CREATE TABLE loaded (id int)")
    execute(pg_url, "INSERT INTO loaded SELECT g FROM generate_series(1, 5000) g")  # its session ends: stats flushed
    assert query(pg_url, "SELECT reltuples FROM pg_class WHERE relname = 'loaded'") == [(-1,)]
    wait_for(
        lambda: query(pg_url, "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'loaded'") == [(5000,)],
        "the inserting session's statistics",
    )

    engine = open_engine(pg_url)
    try:
        assert engine.table_stats("loaded").rows == 5000
        engine.execute("ANALYZE loaded")
        engine.execute("DELETE FROM loaded WHERE id > 1000")  # reltuples now set: it wins until the next ANALYZE
        assert engine.table_stats("loaded").rows == 5000
        engine.execute("ANALYZE loaded")
        assert engine.table_stats("loaded").rows == 1000
    finally:
        engine.close()
