"""One very large migration: `db-migrate validate` and `apply --dry-run` of a ~50 MB file of 449,000 INSERTs.

    python tests/bench/bench_large_file.py [--rows 449000] [--only pg,sqlite,mariadb]

Wall clock of each command as a new process (reading, splitting and checksumming the file, the syntax check,
the schema replay and the rules), beside `wc -l` reading the same file as the floor. The goal (issue 10) is
well under a minute on PostgreSQL, SQLite and MariaDB; before the fix, validate ran > 900 s (quadratic line
numbering, a sqlglot parse and a new SQLite probe database per INSERT) and a dry run printed every statement.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DB_MIGRATE = str(Path(sys.executable).with_name("db-migrate"))
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-X", "-q", "-d", "postgres", "-c"]
MARIADB_ADMIN = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e"]
GOAL_S = 60


def write_file(folder: Path, rows: int) -> Path:
    path = folder / "migrations" / "20240101000000_bulk_load.sql"
    path.parent.mkdir(parents=True)
    with path.open("w") as out:
        out.write(
            "-- UP\nCREATE TABLE items (id integer primary key, name varchar(100), email varchar(200), note text);\n"
        )
        for i in range(1, rows + 1):
            out.write(
                f"INSERT INTO items (id, name, email, note) VALUES ({i}, 'name {i}', 'user{i}@example.com', "
                "'a short note');\n"
            )
        out.write("-- DOWN\nDROP TABLE items;\n")
    return path


def drop_database(admin: list[str], name: str) -> None:
    postgres = admin is PG_ADMIN
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if postgres else f"DROP DATABASE IF EXISTS `{name}`"
    subprocess.run([*admin, drop], check=False)


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=449_000)
    parser.add_argument("--only", default="pg,sqlite,mariadb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_file(folder, args.rows)
        print(
            f"{path.stat().st_size / 1e6:.1f} MB, {args.rows:,} INSERTs; floor (wc -l): "
            f"{timed(['wc', '-l', str(path)], folder):.2f} s"
        )
        targets = []
        if "sqlite" in args.only:
            targets.append(("SQLite", f"sqlite:///{folder / 'bench.db'}", None))
        if "pg" in args.only:
            name = f"mm_bench_{uuid.uuid4().hex[:10]}"
            subprocess.run([*PG_ADMIN, f'CREATE DATABASE "{name}"'], check=True)
            targets.append(("PostgreSQL", f"postgresql://postgres@127.0.0.1:5432/{name}", (PG_ADMIN, name)))
        if "mariadb" in args.only:
            name = f"mm_bench_{uuid.uuid4().hex[:10]}"
            subprocess.run([*MARIADB_ADMIN, f"CREATE DATABASE `{name}`"], check=True)
            targets.append(("MariaDB", f"mysql://root@127.0.0.1:3306/{name}", (MARIADB_ADMIN, name)))
        for label, url, database in targets:
            try:
                for command in (["validate"], ["apply", "--dry-run"]):
                    seconds = timed([DB_MIGRATE, "--url", url, *command], folder)
                    verdict = "ok" if seconds < GOAL_S else "OVER"
                    print(f"{label:10s} {' '.join(command):16s} {seconds:7.1f} s  (goal < {GOAL_S} s: {verdict})")
            finally:
                if database:
                    drop_database(*database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
