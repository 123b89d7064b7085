"""The application of the shadow tests and benchmark: one process that writes to `orders(id, amount, note,
parent_id)` until told to stop, and logs every write it saw committed, with its latency.

    python shadow_writer.py URL LOG STOPFILE [--rate N] [--keep-going]

Each line of LOG: `op id amount note latency_ms started` (op: i insert, u update, d delete, x failed (with
--keep-going; note: the error); started: time.time()
when the write was sent), written after the COMMIT returned. Replaying the log over the seeded rows gives exactly what the table must hold (`expected_rows`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def connect(url: str):
    if url.startswith("postgresql"):
        import psycopg

        return psycopg.connect(url, autocommit=True)
    import pymysql

    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        autocommit=True,
    )


def write_once(conn, pg: bool, live: list[int], rng: random.Random) -> tuple[str, int, int | None, str | None]:
    cur, roll = conn.cursor(), rng.random()
    amount, note = rng.randint(0, 1_000_000), f"w{rng.randint(0, 999)}"
    if roll < 0.4 or not live:
        if pg:
            cur.execute(
                "INSERT INTO orders (amount, note, parent_id) VALUES (%s, %s, %s) RETURNING id",
                (amount, note, rng.randint(1, 10)),
            )
            new_id = cur.fetchone()[0]
        else:
            cur.execute(
                "INSERT INTO orders (amount, note, parent_id) VALUES (%s, %s, %s)", (amount, note, rng.randint(1, 10))
            )
            new_id = cur.lastrowid
        live.append(new_id)
        return "i", new_id, amount, note
    row = live[rng.randrange(len(live))]
    if roll < 0.9:
        cur.execute("UPDATE orders SET amount = %s, note = %s WHERE id = %s", (amount, note, row))
        return "u", row, amount, note
    live.remove(row)
    cur.execute("DELETE FROM orders WHERE id = %s", (row,))
    return "d", row, None, None


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("url")
    args.add_argument("log", type=Path)
    args.add_argument("stop", type=Path)
    args.add_argument("--rate", type=float, default=0, help="writes per second (0: as fast as it can)")
    args.add_argument("--keep-going", action="store_true", help="log a failed write as `x` and go on")
    opts = args.parse_args()
    conn, pg, rng = connect(opts.url), opts.url.startswith("postgresql"), random.Random()
    cur = conn.cursor()
    cur.execute("SELECT id FROM orders")
    live = [r[0] for r in cur.fetchall()]
    pause = 1 / opts.rate if opts.rate else 0
    with opts.log.open("w", buffering=1) as log:
        next_at = time.perf_counter()
        while not opts.stop.exists():
            began, wall = time.perf_counter(), time.time()
            try:
                op, row, amount, note = write_once(conn, pg, live, rng)
            except Exception as exc:  # a write the change made fail (deadlock, timeout): the server rolled it back
                if not opts.keep_going:
                    raise
                op, row, amount, note = "x", 0, None, type(exc).__name__
            took_ms = (time.perf_counter() - began) * 1000
            log.write(f"{op} {row} {amount} {note} {took_ms:.3f} {wall:.6f}\n")
            if pause:
                next_at += pause
                time.sleep(max(0.0, next_at - time.perf_counter()))
    return 0


def expected_rows(seeded: dict[int, tuple[int, str]], log: Path) -> dict[int, tuple[int, str]]:
    """The rows the table must hold: the seeded ones with every logged write applied in order."""
    rows = dict(seeded)
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) < 6:
            continue  # a line cut by a kill
        op, row = parts[0], int(parts[1])
        if op == "x":
            continue  # failed: nothing changed
        if op == "d":
            rows.pop(row, None)
        else:
            rows[row] = (int(parts[2]), parts[3])
    return rows


def latencies_ms(log: Path, since: float = 0.0, until: float = float("inf")) -> list[float]:
    """The latency of each write sent between `since` and `until` (time.time())."""
    found = []
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 6 and since <= float(parts[5]) <= until:
            found.append(float(parts[4]))
    return found


if __name__ == "__main__":
    sys.exit(main())
