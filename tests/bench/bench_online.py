"""Online strategy benchmark: write latency while a big table changes, plain ALTER against the online forms.

    python tests/bench/bench_online.py [--rows 1000000] [--writes-per-s 200] [--only pg,mysql]

A table of --rows rows; another process (multiprocessing) writes to it at a steady pace the whole time
(single-row UPDATEs of random rows and INSERTs of new ones, autocommit) and times each write. Per server:
  * add a NOT NULL column whose DEFAULT is computed per row (PostgreSQL random(), MariaDB UUID()):
    plain ALTER (`offline`: a rewrite / table copy that blocks writes) vs `online` (expand: nullable column, SET
    DEFAULT, batched backfill, NOT VALID CHECK; then `complete`);
  * create an index: plain CREATE INDEX vs `online` (native: CONCURRENTLY / LOCK=NONE).
Each prints p50 / p99 / max write latency during the change, the writes that failed, total time and rows/s (rows of
the table over the change's time), and p99 and max as a ratio to the plain ALTER's. Goal (issue 13): p99 <= 50 ms and
no write stalled > 500 ms during an online change.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbcheck import connect, execute, make_project, throwaway_database, write_native
from migration_manager import service
from migration_manager.service.migrate import apply

COLUMN = {
    "postgres": "ALTER TABLE items ADD COLUMN token integer NOT NULL DEFAULT (random() * 1000)::integer",
    "mysql": "ALTER TABLE items ADD COLUMN token varchar(36) NOT NULL DEFAULT (UUID())",
}
INDEX = "CREATE INDEX items_payload ON items (payload)"


def writer(url: str, rows: int, per_s: float, stop, latencies) -> None:
    """Runs in its own process: one write every 1/per_s seconds, each timed (ms)."""
    conn, rng, next_id, pause, timed, failed = connect(url), random.Random(1), rows + 1, 1 / per_s, [], 0
    cur = conn.cursor()
    while not stop.is_set():
        began = time.perf_counter()
        try:
            if rng.random() < 0.5:
                cur.execute(f"UPDATE items SET payload = 'w{next_id}' WHERE id = {rng.randrange(1, rows)}")
            else:
                cur.execute(f"INSERT INTO items (id, payload) VALUES ({next_id}, 'new')")
                next_id += 1
            timed.append((time.time(), (time.perf_counter() - began) * 1000))
        except Exception:  # noqa: BLE001 - a refused write is counted, the bench goes on
            failed += 1
        time.sleep(max(0.0, pause - (time.perf_counter() - began)))
    latencies.put((timed, failed))


def load(url: str, rows: int) -> None:
    execute(url, "CREATE TABLE items (id bigint PRIMARY KEY, payload varchar(40) NOT NULL)")
    chunk = 50_000
    for start in range(1, rows + 1, chunk):
        values = ", ".join(f"({i}, 'p{i % 9973}')" for i in range(start, min(start + chunk, rows + 1)))
        execute(url, f"INSERT INTO items (id, payload) VALUES {values}")


def measure(url: str, rows: int, per_s: float, change) -> dict:
    """Run `change()` while the writer process writes; its latencies during the change and the change's time (the
    writes are stamped with the wall clock, which both processes share)."""
    stop, latencies = multiprocessing.Event(), multiprocessing.Queue()
    # daemon: a change that raises must not leave the writer running (and this process waiting for it)
    process = multiprocessing.Process(target=writer, args=(url, rows, per_s, stop, latencies), daemon=True)
    process.start()
    time.sleep(1.0)  # the writer's connection warmed up: its first writes are not the change's
    began, wall = time.perf_counter(), time.time()
    try:
        change()
    finally:
        stop.set()
    took, ended = time.perf_counter() - began, time.time()
    stamped, failed = latencies.get(timeout=60)
    process.join()
    timed = sorted(ms for at, ms in stamped if wall <= at <= ended + 0.001) or [0.0]
    return {
        "p50": statistics.median(timed),
        "p99": timed[min(len(timed) - 1, int(len(timed) * 0.99))],
        "max": timed[-1],
        "writes": len(timed),
        "failed": failed,
        "seconds": took,
        "rows_per_s": rows / took if took else 0,
    }


def run_case(server: str, rows: int, per_s: float, sql: str, strategy: str) -> dict:
    with throwaway_database(server) as url:
        load(url, rows)
        project = make_project(Path(tempfile.mkdtemp()) / "proj", url, autoBackup=False, ddlLockTimeoutMs=None)
        write_native(project, "1", "change", sql, None)

        def change() -> None:
            # The apply itself (service.migrate.apply): `offline` here is the plain ALTER as written, without the
            # offline deployment's stop and start commands around it.
            report = apply(service.ApplyRequest(project_dir=project, env="dev", approved=True, strategy=strategy))
            assert report.outcome == "done", report.error
            if strategy == "online":
                done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
                assert done.outcome in ("done", "nothing-to-do"), done.error

        return measure(url, rows, per_s, change)


def show(name: str, figures: dict, plain: dict | None) -> None:
    ratio = ""
    if plain:
        ratio = f"  p99 x{figures['p99'] / max(plain['p99'], 0.001):.2f}, max x{figures['max'] / max(plain['max'], 0.001):.2f}"
    print(
        f"  {name:<34} p50 {figures['p50']:7.1f} ms  p99 {figures['p99']:8.1f} ms  max {figures['max']:8.1f} ms  "
        f"writes {figures['writes']:5d} (failed {figures['failed']})  {figures['seconds']:7.2f} s  "
        f"{figures['rows_per_s']:>10,.0f} rows/s{ratio}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes-per-s", type=float, default=200)
    parser.add_argument("--only", default="pg,mysql")
    args = parser.parse_args()
    servers = {"pg": "postgres", "mysql": "mysql"}
    for key in args.only.split(","):
        server = servers[key]
        print(f"{server}: {args.rows:,} rows, {args.writes_per_s:.0f} writes/s from another process", flush=True)
        for title, sql in (("NOT NULL column, per-row DEFAULT", COLUMN[server]), ("index", INDEX)):
            plain = run_case(server, args.rows, args.writes_per_s, sql, "offline")
            show(f"{title}: plain ALTER", plain, None)
            online = run_case(server, args.rows, args.writes_per_s, sql, "online")
            show(f"{title}: online", online, plain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
