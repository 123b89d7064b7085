"""Shadow-table change benchmark: a type change of a 1M-row table under a constant write load.

    python tests/bench/bench_shadow.py [--rows 1000000] [--rate 300] [--only pg,mysql] [--runs plain,shadow,pt-osc]

Per server, one after the other on a freshly loaded table (`orders(id, amount int, note, parent_id)`), while
tests/strategies/shadow_writer.py (another process, one connection, autocommit) inserts / updates / deletes at
`--rate` writes per second and logs each write's latency:
* plain: the ALTER as written (PostgreSQL rewrites under ACCESS EXCLUSIVE; MariaDB copies with LOCK=SHARED);
* shadow: strategies/shadow.py start (triggers, copy, verify, swap) then complete (drop the old table);
* pt-osc (MariaDB): pt-online-schema-change 3.x with its defaults (chunk-time 0.5 s), the same ALTER.
Printed per run: the writes' p50 / p99 / max latency during the change, how many took over 500 ms and how many
failed (the writer logs a failed write and goes on: pt-osc's copy deadlocks with writers on MariaDB's AUTO-INC lock), the
total time, and for shadow the rows per second copied and verified. After each run the table is checked
against the writer's log (the rows it must hold). Goal (issue 13): p99 <= 50 ms, no write over 500 ms, copy
>= 100k rows/s on PostgreSQL and at least pt-osc's rate on MariaDB.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "server"))
sys.path.insert(0, str(HERE.parents[1] / "strategies"))
sys.path.insert(0, str(HERE.parents[1]))

from shadow_writer import expected_rows, latencies_ms  # noqa: E402 -- imported after sys.path is set above

from dbcheck import execute, query, throwaway_database  # noqa: E402 - after the path set-up
from migration_manager.dialects import open_engine  # noqa: E402 -- imported after sys.path is set above
from migration_manager.strategies import shadow  # noqa: E402 -- imported after sys.path is set above

WRITER = HERE.parents[1] / "strategies" / "shadow_writer.py"
ALTER = {
    "postgres": "ALTER TABLE orders ALTER COLUMN amount TYPE bigint",
    "mysql": "ALTER TABLE orders MODIFY amount bigint NOT NULL",
}


def load(url: str, server: str, rows: int) -> None:
    serial = "serial" if server == "postgres" else "int AUTO_INCREMENT"
    execute(url, f"CREATE TABLE orders (id {serial} PRIMARY KEY, amount int NOT NULL, note varchar(20), parent_id int)")
    if server == "postgres":
        execute(
            url,
            f"INSERT INTO orders (amount, note, parent_id) SELECT g, 'n' || g, g % 10 FROM generate_series(1, {rows}) g",
        )
        execute(url, "VACUUM ANALYZE orders")
    else:
        execute(
            url,
            f"INSERT INTO orders (amount, note, parent_id) SELECT seq, concat('n', seq), seq % 10 FROM seq_1_to_{rows}",
        )
        execute(url, "ANALYZE TABLE orders")


def snapshot(url: str) -> dict[int, tuple[int, str]]:
    return {r[0]: (int(r[1]), r[2]) for r in query(url, "SELECT id, amount, note FROM orders")}


class Load:
    """The writer process at a constant rate."""

    def __init__(self, url: str, folder: Path, rate: float) -> None:
        self.log, self.stop_file = folder / "writer.log", folder / "writer.stop"
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), url, str(self.log), str(self.stop_file), "--rate", str(rate), "--keep-going"]
        )
        while not self.log.exists() or len(self.log.read_text().splitlines()) < 50:
            time.sleep(0.1)

    def stop(self) -> int:
        self.stop_file.touch()
        return self.process.wait(timeout=120)


def run_plain(url: str, server: str) -> dict:
    engine = open_engine(url)
    engine.execute(ALTER[server])
    engine.close()
    return {}


def run_shadow(url: str, server: str) -> dict:
    engine = open_engine(url)
    marks: dict[str, float] = {}
    rows: dict[str, int] = {}

    def progress(what: str, p) -> None:
        marks.setdefault(what, time.monotonic())
        marks[what + ".last"] = time.monotonic()
        rows[what] = p.rows

    began = time.monotonic()
    report = shadow.start(engine, ALTER[server], progress=progress)
    swapped = time.monotonic()
    shadow.complete(engine, "orders")
    engine.close()
    copy_s = marks["verify"] - marks.get("copy", began)
    verify_s = marks.get("swap", time.monotonic()) - marks["verify"]
    return {
        "copied/s": report.rows_copied / copy_s,
        "verified/s": report.rows_verified / verify_s,
        "cut-over tries": report.cutover_tries,
        "s: triggers": round(marks.get("copy", began) - began, 1),
        "copy": round(copy_s, 1),
        "verify": round(verify_s, 1),
        "swap+after": round(swapped - marks.get("swap", swapped), 1),
        "complete": round(time.monotonic() - swapped, 1),
    }


def run_ptosc(url: str, server: str) -> dict:
    database = url.rsplit("/", 1)[1]
    began = time.monotonic()
    out = subprocess.run(
        [
            "pt-online-schema-change",
            "--alter",
            ALTER[server].split("orders ", 1)[1],
            "--execute",
            "--no-check-replication-filters",
            "--recursion-method",
            "none",
            "--no-drop-old-table",
            f"D={database},t=orders,h=127.0.0.1,u=root",
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    copy_s = time.monotonic() - began
    rows = query(url, "SELECT count(*) FROM orders")[0][0]
    return {"copied/s": rows / copy_s}


def measure(server: str, rows: int, rate: float, name: str, run) -> None:
    with throwaway_database(server, prefix="mm_bench") as url, TemporaryDirectory() as folder:
        load(url, server, rows)
        seeded = snapshot(url)
        writer = Load(url, Path(folder), rate)
        time.sleep(1)
        since, began = time.time(), time.monotonic()
        extra = run(url, server)
        total, until = time.monotonic() - began, time.time()
        time.sleep(1)
        assert writer.stop() == 0, "the writer died"
        lat = sorted(latencies_ms(writer.log, since, until))
        failed = sum(line.startswith("x ") for line in writer.log.read_text().splitlines())
        exact = snapshot(url) == expected_rows(seeded, writer.log)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731 - a percentile, read once
        figures = (
            f"{server:8} {name:7} total {total:6.1f} s | writes {len(lat):6} p50 {statistics.median(lat):6.1f} ms "
            f"p99 {p(0.99):7.1f} ms max {lat[-1]:7.1f} ms >500ms {sum(x > 500 for x in lat):4} failed {failed} | rows exact: {exact}"
        )
        print(
            figures + "".join(f" | {k} {v:,.0f}" if isinstance(v, float) else f" | {k} {v}" for k, v in extra.items()),
            flush=True,
        )


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rows", type=int, default=1_000_000)
    args.add_argument("--rate", type=float, default=300)
    args.add_argument("--only", default="pg,mysql")
    args.add_argument("--runs", default="plain,shadow,pt-osc", help="which of plain, shadow, pt-osc")
    opts = args.parse_args()
    for server in [{"pg": "postgres", "mysql": "mysql"}[s] for s in opts.only.split(",")]:
        runs = [("plain", run_plain)] if "plain" in opts.runs else []
        runs += [("shadow", run_shadow)] if "shadow" in opts.runs else []
        if server == "mysql" and "pt-osc" in opts.runs:
            if shutil.which("pt-online-schema-change"):
                runs.append(("pt-osc", run_ptosc))
            else:
                print("pt-online-schema-change not found (Debian: apt-get install percona-toolkit): skipped")
        for name, run in runs:
            measure(server, opts.rows, opts.rate, name, run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
