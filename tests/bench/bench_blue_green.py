"""Blue-green benchmark on PostgreSQL and MariaDB: the time to a ready green and the write freeze at the switch, for
a database of --rows rows (default 1M), against a plain dump/restore deployment whose writes stop for the whole
copy.

    python tests/bench/bench_blue_green.py [--rows 1000000] [--writes-per-s 200] [--only postgres,mariadb]

Private servers are started for it (tests/logical_server.py: PostgreSQL with wal_level=logical, mariadbd with
log_bin and binlog_format=ROW). Blue holds `events` (--rows rows of ~100 bytes); the migration adds a column and
an index. While a writer thread inserts --writes-per-s rows a second into blue (then into whichever side
`db-migrate url` names):
  * blue-green: `apply --strategy blue-green` (copy, replicate, migrate and test green) -> time to a ready green,
    writes going on; then `switch` -> the write freeze (blue refuses writes until the flip);
  * baseline: the database's dump piped into its client, then the same migration: writes would have to stop for
    all of it (the copy must not miss them), so that is its freeze.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbcheck import execute, make_project, write_native
from logical_server import binlog_mariadb, logical_postgres
from migration_manager.config import load_settings, resolve_target
from migration_manager.dialects import open_engine
from migration_manager.service import ApplyRequest, apply
from migration_manager.strategies.blue_green import SwitchRequest, complete, prepare, switch

MIGRATION = ["ALTER TABLE events ADD COLUMN region text", "CREATE INDEX events_created ON events (created_at)"]
MARIADB = ["--protocol=TCP", "-h127.0.0.1", "-uroot"]


class Writer(threading.Thread):
    """Inserts at a steady pace into the active side, reconnecting (and re-reading the URL) after an error."""

    def __init__(self, project: Path, per_s: float) -> None:
        super().__init__(daemon=True)
        self.project, self.pause, self.stop, self.written, self.failed = project, 1 / per_s, False, 0, 0

    def run(self) -> None:
        engine = None
        while not self.stop:
            try:
                if engine is None:
                    engine = open_engine(resolve_target(load_settings(self.project), self.project, "dev", None).url)
                engine.execute("INSERT INTO events (payload, created_at) VALUES ('written during the bench', now())")
                self.written += 1
            except Exception:  # noqa: BLE001 - refused (frozen) or ended by the switch: reconnect and go on
                self.failed += 1
                engine = None
            time.sleep(self.pause)


@contextmanager
def postgres(rows: int):
    with logical_postgres("max_wal_size=4GB") as server:
        execute(f"{server}/postgres", "CREATE DATABASE blue")
        blue = f"{server}/blue"
        execute(blue, "CREATE TABLE events (id bigserial PRIMARY KEY, payload text, created_at timestamptz)")
        execute(
            blue,
            "INSERT INTO events (payload, created_at) SELECT repeat(md5(g::text), 2), now() - g * interval '1 s' "
            f"FROM generate_series(1, {rows}) g",
        )
        execute(blue, "VACUUM ANALYZE events")

        def baseline() -> float:
            psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
            execute(f"{server}/postgres", "CREATE DATABASE copy")
            started = time.perf_counter()
            dump = subprocess.Popen(["pg_dump", "-Fc", "-d", blue], stdout=subprocess.PIPE)
            subprocess.run(["pg_restore", "-d", f"{server}/copy"], stdin=dump.stdout, check=True)
            dump.wait()
            subprocess.run([*psql, "-d", f"{server}/copy", "-c", "; ".join(MIGRATION)], check=True)
            return time.perf_counter() - started

        yield blue, baseline


@contextmanager
def mariadb(rows: int):
    with binlog_mariadb() as server:
        port = server.rsplit(":", 1)[1]
        execute(f"{server}/mysql", "CREATE DATABASE blue")
        blue = f"{server}/blue"
        execute(blue, "CREATE TABLE events (id bigint AUTO_INCREMENT PRIMARY KEY, payload text, created_at datetime)")
        execute(
            blue,
            "INSERT INTO events (payload, created_at) SELECT REPEAT(MD5(seq), 2), NOW() - INTERVAL seq SECOND "
            f"FROM seq_1_to_{rows}",
        )

        def baseline() -> float:
            client = ["mariadb", *MARIADB, f"-P{port}"]
            execute(f"{server}/mysql", "CREATE DATABASE copy")
            started = time.perf_counter()
            dump = subprocess.Popen(
                ["mariadb-dump", *MARIADB, f"-P{port}", "--single-transaction", "blue"], stdout=subprocess.PIPE
            )
            subprocess.run([*client, "copy"], stdin=dump.stdout, check=True)
            dump.wait()
            subprocess.run([*client, "copy", "-e", "; ".join(MIGRATION)], check=True)
            return time.perf_counter() - started

        yield blue, baseline


def bench(name: str, server, rows: int, per_s: float) -> None:
    with server(rows) as (blue, baseline), tempfile.TemporaryDirectory() as folder:
        print(f"\n{name}: blue {rows:,} rows, writer {per_s:g} inserts/s", flush=True)
        baseline_s = baseline()
        project = make_project(Path(folder) / "proj", blue, autoBackup=False)
        write_native(project, "1", "events", "SELECT 1", None)
        apply(ApplyRequest(project_dir=project, env="dev", approved=True))
        write_native(project, "2", "region", MIGRATION, None)
        writer = Writer(project, per_s)
        writer.start()
        ready = prepare(ApplyRequest(project_dir=project, env="dev"))
        assert ready.outcome == "done", ready.message
        switched = switch(SwitchRequest(project_dir=project, env="dev"))
        assert switched.outcome == "done", switched.message
        time.sleep(0.5)
        writer.stop = True
        writer.join()
        steps = ", ".join(f"{s.name.split(' (')[0]} {s.duration_ms} ms" for s in ready.steps)
        print(f"{name} blue-green: green ready in {ready.ready_ms / 1000:.1f} s ({steps}); writes went on")
        print(
            f"{name} blue-green: switch froze writes {switched.freeze_ms} ms (goal < 1000), "
            f"{len(switched.sessions_ended)} session(s) ended; writer: {writer.written} inserts, "
            f"{writer.failed} refused and retried"
        )
        print(f"{name} baseline: dump | restore | migrate {baseline_s:.1f} s, all of it a write freeze")
        print(f"{name} ratio: freeze {switched.freeze_ms / 1000 / baseline_s:.3f} x the baseline's", flush=True)
        complete(SwitchRequest(project_dir=project, env="dev", approved=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes-per-s", type=float, default=200)
    parser.add_argument("--only", default="postgres,mariadb")
    args = parser.parse_args()
    servers = {"postgres": postgres, "mariadb": mariadb}
    for name in args.only.split(","):
        bench(name, servers[name], args.rows, args.writes_per_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
