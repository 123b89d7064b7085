"""Blue-green benchmark on PostgreSQL: the time to a ready green and the write freeze at the switch, for a
database of --rows rows (default 1M), against a plain dump/restore deployment whose writes stop for the whole
copy.

    python tests/bench/bench_blue_green.py [--rows 1000000] [--writes-per-s 200]

A private server with wal_level=logical is started for it (tests/logical_server.py). Blue holds `events`
(--rows rows of ~100 bytes); the migration adds a column and an index. While a writer thread inserts
--writes-per-s rows a second into blue (then into whichever side `db-migrate url` names):
  * blue-green: `apply --strategy blue-green` (prepare: clone, replicate, migrate and test green) -> time to a
    ready green, writes going on; then `switch` -> the write freeze (blue refuses writes until the flip);
  * baseline: pg_dump -Fc | pg_restore into a new database, then the same migration with psql: writes would
    have to stop for all of it (the copy must not miss them), so that is its freeze.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from dbcheck import make_project, write_native
from logical_server import logical_postgres
from migration_manager.config import load_settings, resolve_target
from migration_manager.service import ApplyRequest, apply
from migration_manager.strategies.blue_green import SwitchRequest, complete, prepare, switch

MIGRATION = ["ALTER TABLE events ADD COLUMN region text", "CREATE INDEX events_created ON events (created_at)"]


class Writer(threading.Thread):
    """Inserts at a steady pace into the active side, reconnecting (and re-reading the URL) after an error."""

    def __init__(self, project: Path, per_s: float) -> None:
        super().__init__(daemon=True)
        self.project, self.pause, self.stop, self.written, self.failed = project, 1 / per_s, False, 0, 0

    def run(self) -> None:
        conn = None
        while not self.stop:
            try:
                if conn is None:
                    url = resolve_target(load_settings(self.project), self.project, "dev", None).url
                    conn = psycopg.connect(url, autocommit=True, connect_timeout=2)
                conn.execute("INSERT INTO events (payload, created_at) VALUES ('written during the bench', now())")
                self.written += 1
            except psycopg.Error:
                self.failed += 1
                conn = None
            time.sleep(self.pause)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes-per-s", type=float, default=200)
    args = parser.parse_args()
    with logical_postgres("max_wal_size=4GB") as server, tempfile.TemporaryDirectory() as folder:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True)
        admin.execute("CREATE DATABASE blue")
        blue = f"{server}/blue"
        with psycopg.connect(blue, autocommit=True) as conn:
            conn.execute("CREATE TABLE events (id bigserial PRIMARY KEY, payload text, created_at timestamptz)")
            conn.execute(
                "INSERT INTO events (payload, created_at) SELECT repeat(md5(g::text), 2), now() - g * interval '1 s' "
                f"FROM generate_series(1, {args.rows}) g"
            )
            conn.execute("VACUUM ANALYZE events")
        print(f"blue: {args.rows:,} rows, writer {args.writes_per_s:g} inserts/s", flush=True)
        baseline_s = _dump_restore_baseline(server)
        project = make_project(Path(folder) / "proj", blue, autoBackup=False)
        write_native(project, "1", "events", "SELECT 1", None)
        apply(ApplyRequest(project_dir=project, env="dev", approved=True))
        write_native(project, "2", "region", MIGRATION, None)
        writer = Writer(project, args.writes_per_s)
        writer.start()
        ready = prepare(ApplyRequest(project_dir=project, env="dev"))
        assert ready.outcome == "done", ready.message
        switched = switch(SwitchRequest(project_dir=project, env="dev"))
        assert switched.outcome == "done", switched.message
        time.sleep(0.5)
        writer.stop = True
        writer.join()
        steps = ", ".join(f"{s.name.split(' (')[0]} {s.duration_ms} ms" for s in ready.steps)
        print(f"blue-green: green ready in {ready.ready_ms / 1000:.1f} s ({steps}); writes went on")
        print(
            f"blue-green: switch froze writes {switched.freeze_ms} ms (goal < 1000), "
            f"{len(switched.sessions_ended)} session(s) ended; writer: {writer.written} inserts, "
            f"{writer.failed} refused and retried"
        )
        print(f"baseline: dump | restore | migrate {baseline_s:.1f} s, all of it a write freeze")
        print(f"ratio: freeze {switched.freeze_ms / 1000 / baseline_s:.3f} x the baseline's")
        complete(SwitchRequest(project_dir=project, env="dev", approved=True))
        admin.close()
    return 0


def _dump_restore_baseline(server: str) -> float:
    """pg_dump -Fc | pg_restore into a new database, then the migration with psql: the plain way."""
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-d", f"{server}/postgres", "-c", "CREATE DATABASE copy"], check=True)
    started = time.perf_counter()
    dump = subprocess.Popen(["pg_dump", "-Fc", "-d", f"{server}/blue"], stdout=subprocess.PIPE)
    subprocess.run(["pg_restore", "-d", f"{server}/copy"], stdin=dump.stdout, check=True)
    dump.wait()
    subprocess.run([*psql, "-d", f"{server}/copy", "-c", "; ".join(MIGRATION)], check=True)
    elapsed = time.perf_counter() - started
    subprocess.run([*psql, "-d", f"{server}/postgres", "-c", "DROP DATABASE copy"], check=True)
    return elapsed


if __name__ == "__main__":
    sys.exit(main())
