"""The server's measured throughput is kept for a day in the user's cache folder, so an `analyze` does not
calibrate (scratch tables, about a second) on every run; a stale or unreadable cache is measured again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from migration_manager.analysis import stats
from migration_manager.dialects import open_engine


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(stats, "_THROUGHPUT", {})
    opened = open_engine(sqlite_url)
    yield opened
    opened.close()


def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "migration-manager" / "throughput.json"


def test_a_second_command_reuses_the_measurement(engine, tmp_path: Path, monkeypatch) -> None:
    first = stats.throughput(engine, rows=2000)
    assert first.measured_at is not None and first.scan.rows_per_s > 0
    [key] = json.loads(cache_file(tmp_path).read_text())
    assert engine.server_version() in key

    monkeypatch.setattr(stats, "_THROUGHPUT", {})  # a new process
    assert stats.throughput(engine, rows=2000) == first


def test_a_measurement_older_than_a_day_is_taken_again(engine, tmp_path: Path, monkeypatch) -> None:
    first = stats.throughput(engine, rows=2000)
    entries = json.loads(cache_file(tmp_path).read_text())
    stale = (datetime.now(UTC) - stats.THROUGHPUT_TTL - timedelta(minutes=1)).isoformat()
    cache_file(tmp_path).write_text(json.dumps({k: {**v, "measured_at": stale} for k, v in entries.items()}))

    monkeypatch.setattr(stats, "_THROUGHPUT", {})
    again = stats.throughput(engine, rows=2000)
    assert again.measured_at > first.measured_at
    assert [v["measured_at"] for v in json.loads(cache_file(tmp_path).read_text()).values()] == [
        again.measured_at.isoformat().replace("+00:00", "Z")
    ]


def test_an_unusable_cache_only_means_measuring(engine, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    assert stats.throughput(engine, rows=2000).measured_at is not None

    monkeypatch.setattr(stats, "_THROUGHPUT", {})
    blocker.unlink()
    cache_file(tmp_path).parent.mkdir(parents=True)
    cache_file(tmp_path).write_text("{not json")
    assert stats.throughput(engine, rows=2000).measured_at is not None
    assert json.loads(cache_file(tmp_path).read_text())  # rewritten whole
