"""Backup benchmark: our pre-migration backup versus each database's bare dump, and the time to roll
back the last migration of a 1 GB PostgreSQL database (goal: well under 2 minutes).

    python tests/bench/bench_backup.py [--size-mb 300] [--rollback-size-mb 1024] [--runs 3]
                                       [--only pg,mysql,sqlite] [--no-rollback]

overhead: `db-migrate backup create` (one process: connect, lock, dump, manifest, sha256 of the
dump; the same take_backup() autoBackup runs before apply/rollback) versus the bare tool on the same
database: `pg_dump -Fc`, `mariadb-dump --single-transaction`, `sqlite3 .backup`. The database
(--size-mb, built server-side with generate_series / seq_1_to_N / a recursive CTE) is one table of
text rows plus its primary key. Medians of --runs runs, printed as a ratio to the bare tool.

rollback: a ~1 GB PostgreSQL database (--rollback-size-mb; two tables, `events` referencing
`accounts`), its last migration `ALTER TABLE events ADD COLUMN region; CREATE INDEX ... (created_at)`
applied by db-migrate, then `db-migrate rollback --yes`:
  * default config (autoBackup on): the backup scope (tables or whole) and size are printed;
  * `--emergency` (skips analysis, validation, the plan's counts and estimate, and the backup);
  * autoBackup: false (our overhead without any backup);
  * the DOWN SQL alone through psql (baseline);
and `db-migrate backup create` of the whole database beside a bare `pg_dump -Fc` of it.
Every database made here is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

PG_HOST = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
MY_HOST = ["--protocol=TCP", "-h", "127.0.0.1", "-P", "3306", "-uroot"]
DB_MIGRATE = str(Path(sys.executable).with_name("db-migrate"))
GOAL_S = 120
ROW_BYTES = 180  # on-disk bytes per generated row (heap + primary key), to size the tables


# ---- helpers --------------------------------------------------------------------------------
def _run(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"benchmark command failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}"
        )
    return elapsed


def _out(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def psql(name: str, sql: str) -> list[str]:
    return ["psql", *PG_HOST, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-c", sql]


def mariadb(name: str, sql: str) -> list[str]:
    return ["mariadb", *MY_HOST, name, "-e", sql]


def median_of(runs: int, action: Callable[[], float], after: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(runs):
        times.append(action())
        after()
    return statistics.median(times)


def project(folder: Path, auto_backup: bool = True) -> Path:
    """A project folder (backupDir inside it); autoBackup off where a run only sets the stage."""
    folder.mkdir(parents=True, exist_ok=True)
    if not auto_backup:
        (folder / "migration-manager.yaml").write_text("autoBackup: false\n")
    return folder


def ours(url: str, proj: Path, *args: str) -> list[str]:
    return [DB_MIGRATE, "--url", url, "--project", str(proj), "--dir", str(proj / "migrations"), *args]


def latest_manifest(proj: Path) -> dict:
    manifests = sorted((proj / ".migration-manager" / "backups").glob("*/manifest.json"))
    return json.loads(manifests[-1].read_text())


def clear_backups(proj: Path) -> None:
    shutil.rmtree(proj / ".migration-manager" / "backups", ignore_errors=True)


def mb(size: float) -> str:
    return f"{size / 1_048_576:,.0f} MB"


# ---- the databases --------------------------------------------------------------------------
def pg_create(rows: int, accounts: int = 0) -> str:
    name = f"mm_bench_{uuid.uuid4().hex[:10]}"
    _run(psql("postgres", f'CREATE DATABASE "{name}"'))
    if accounts:
        _run(psql(name, "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, profile text)"))
        _run(
            psql(
                name,
                f"INSERT INTO accounts SELECT g, 'user' || g || '@example.com', repeat(md5(g::text), 3) "
                f"FROM generate_series(1, {accounts}) g",
            )
        )
    # Built without its keys, which are added afterwards (much faster than maintaining them per row).
    _run(
        psql(
            name,
            "CREATE TABLE events (id bigint, account_id bigint, kind text NOT NULL, payload text, "
            "created_at timestamptz NOT NULL)",
        )
    )
    _run(
        psql(
            name,
            f"INSERT INTO events SELECT g, {f'1 + g % {accounts}' if accounts else 'g % 1000'}, "
            f"(ARRAY['click','view','buy','login'])[1 + g % 4], md5(g::text) || md5((g * 7)::text) || "
            f"md5((g * 13)::text), timestamptz '2024-01-01' + g * interval '1 second' "
            f"FROM generate_series(1, {rows}) g",
        )
    )
    _run(psql(name, "ALTER TABLE events ADD PRIMARY KEY (id)"))
    if accounts:
        _run(psql(name, "ALTER TABLE events ADD FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID"))
    _run(psql(name, "VACUUM ANALYZE"))
    return name


def pg_size(name: str) -> int:
    return int(_out(["psql", *PG_HOST, "-X", "-At", "-d", name, "-c", "SELECT pg_database_size(current_database())"]))


def pg_drop(name: str) -> None:
    _run(psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def my_create(rows: int) -> str:
    name = f"mm_bench_{uuid.uuid4().hex[:10]}"
    _run(["mariadb", *MY_HOST, "-e", f"CREATE DATABASE `{name}`"])
    _run(
        mariadb(
            name,
            "CREATE TABLE events (id bigint PRIMARY KEY, account_id bigint, kind varchar(10) NOT NULL, "
            "payload text, created_at datetime NOT NULL) ENGINE=InnoDB",
        )
    )
    _run(
        mariadb(
            name,
            f"INSERT INTO events SELECT seq, seq % 1000, ELT(1 + seq % 4, 'click','view','buy','login'), "
            f"concat(md5(seq), md5(seq * 7), md5(seq * 13)), '2024-01-01' + INTERVAL seq SECOND "
            f"FROM seq_1_to_{rows}",
        )
    )
    _run(mariadb(name, "ANALYZE TABLE events"))  # information_schema sizes are estimates until then
    return name


def my_size(name: str) -> int:
    return int(
        _out(
            [
                "mariadb",
                *MY_HOST,
                "-N",
                "-e",
                f"SELECT sum(data_length + index_length) FROM information_schema.tables WHERE table_schema = '{name}'",
            ]
        )
    )


def my_drop(name: str) -> None:
    _run(["mariadb", *MY_HOST, "-e", f"DROP DATABASE IF EXISTS `{name}`"])


def sqlite_create(path: Path, rows: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "sqlite3",
            str(path),
            "CREATE TABLE events (id integer PRIMARY KEY, account_id integer, kind text NOT NULL, "
            "payload text, created_at text NOT NULL); WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g "
            f"WHERE i < {rows}) INSERT INTO events SELECT i, i % 1000, 'click', hex(randomblob(24)) || printf('%040d', i), "
            "datetime('2024-01-01', '+' || i || ' seconds') FROM g;",
        ]
    )
    return str(path)


# ---- (a) backup overhead --------------------------------------------------------------------
def overhead(
    label: str, url: str, size: int, bare: Callable[[Path], list[str]], bare_label: str, folder: Path, runs: int
) -> None:
    proj = project(folder / f"overhead_{uuid.uuid4().hex[:6]}")
    (proj / "migrations").mkdir(exist_ok=True)
    bare_file = folder / "bare.dump"

    def drop_bare() -> None:
        shutil.rmtree(bare_file, ignore_errors=True) if bare_file.is_dir() else bare_file.unlink(missing_ok=True)

    theirs = median_of(runs, lambda: _run(bare(bare_file)), drop_bare)
    mine = median_of(runs, lambda: _run(ours(url, proj, "--json", "backup", "create")))
    manifest = latest_manifest(proj)
    clear_backups(proj)
    print(
        f"  {label:10} {mb(size):>8} database: db-migrate backup create {mine:6.2f} s "
        f"({manifest['format']}, {mb(manifest['size_bytes'])}, manifest + sha256)  "
        f"{bare_label} {theirs:6.2f} s  ratio {mine / theirs:5.2f}",
        flush=True,
    )


def overhead_pg(size_mb: int, folder: Path, runs: int) -> None:
    name = pg_create(size_mb * 1_048_576 // ROW_BYTES)
    try:
        overhead(
            "PostgreSQL",
            f"postgresql://postgres@127.0.0.1:5432/{name}",
            pg_size(name),
            lambda out: ["pg_dump", *PG_HOST, "-Fc", "-f", str(out), name],
            "pg_dump -Fc",
            folder,
            runs,
        )
    finally:
        pg_drop(name)


def overhead_mysql(size_mb: int, folder: Path, runs: int) -> None:
    name = my_create(size_mb * 1_048_576 // ROW_BYTES)
    try:
        overhead(
            "MariaDB",
            f"mysql://root@127.0.0.1:3306/{name}",
            my_size(name),
            lambda out: ["mariadb-dump", *MY_HOST, "--single-transaction", f"--result-file={out}", name],
            "mariadb-dump --single-transaction",
            folder,
            runs,
        )
    finally:
        my_drop(name)


def overhead_sqlite(size_mb: int, folder: Path, runs: int) -> None:
    path = Path(sqlite_create(folder / "bench.db", size_mb * 1_048_576 // ROW_BYTES))
    try:
        overhead(
            "SQLite",
            f"sqlite:///{path}",
            path.stat().st_size,
            lambda out: ["sqlite3", str(path), f".backup {out}"],
            "sqlite3 .backup",
            folder,
            runs,
        )
    finally:
        path.unlink(missing_ok=True)


# ---- (b) roll back the last migration of a 1 GB database ------------------------------------
UP = "ALTER TABLE events ADD COLUMN region text;\nCREATE INDEX events_created_at_idx ON events (created_at);"
DOWN = "DROP INDEX events_created_at_idx;\nALTER TABLE events DROP COLUMN region;"


def rollback_bench(size_mb: int, folder: Path, runs: int) -> None:
    total_rows = size_mb * 1_048_576 // ROW_BYTES
    print(f"  building a {size_mb} MB PostgreSQL database server-side ...", flush=True)
    started = time.perf_counter()
    name = pg_create(total_rows * 4 // 5, accounts=total_rows // 5)
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        print(f"  built in {time.perf_counter() - started:.0f} s: pg_database_size = {mb(pg_size(name))}", flush=True)
        setup = project(folder / "setup", auto_backup=False)
        default, no_backup = project(folder / "default"), project(folder / "no_backup", auto_backup=False)
        migrations = setup / "migrations"
        migrations.mkdir()
        (migrations / "00000001_events.sql").write_text(
            "-- UP\nCREATE TABLE notes (id integer PRIMARY KEY);\n-- DOWN\nDROP TABLE notes;\n"
        )
        (migrations / "00000002_events_region.sql").write_text(f"-- UP\n{UP}\n\n-- DOWN\n{DOWN}\n")
        for proj in (default, no_backup):
            shutil.copytree(migrations, proj / "migrations")
        apply = ours(url, setup, "--yes", "apply")
        _run(apply)

        def timed_rollback(command: list[str]) -> Callable[[], float]:
            return lambda: _run(command)

        bare = median_of(
            runs,
            lambda: _run(["psql", *PG_HOST, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", name, "-c", DOWN]),
            lambda: _run(psql(name, UP)),
        )
        plain = median_of(runs, timed_rollback(ours(url, no_backup, "--yes", "rollback")), lambda: _run(apply))
        with_backup = median_of(runs, timed_rollback(ours(url, default, "--yes", "rollback")), lambda: _run(apply))
        manifest = latest_manifest(default)
        clear_backups(default)
        emergency = median_of(
            runs, timed_rollback(ours(url, default, "--yes", "rollback", "--emergency")), lambda: _run(apply)
        )
        clear_backups(default)
        whole = median_of(runs, lambda: _run(ours(url, default, "--json", "backup", "create")))
        whole_manifest = latest_manifest(default)
        clear_backups(default)
        dump = folder / "whole.dump"
        pg_dump = median_of(
            runs,
            lambda: _run(["pg_dump", *PG_HOST, "-Fc", "-f", str(dump), name]),
            lambda: dump.unlink(missing_ok=True),
        )
        print(f"  last migration: {UP.replace(chr(10), ' ')}")
        print(
            f"  rollback --yes, default config (autoBackup: {manifest['scope']} backup"
            f"{' of ' + ', '.join(manifest['tables']) if manifest['scope'] == 'tables' else ''}, "
            f"{manifest['format']}, {mb(manifest['size_bytes'])}): {with_backup:6.1f} s  "
            f"ratio {with_backup / bare:6.1f} to the bare DOWN  goal < {GOAL_S} s: "
            f"{'met' if with_backup < GOAL_S else 'MISSED'}"
        )
        print(
            f"  rollback --yes --emergency (no analysis, no backup): {emergency:6.1f} s  "
            f"goal < {GOAL_S} s: {'met' if emergency < GOAL_S else 'MISSED'}"
        )
        print(f"  rollback --yes with autoBackup: false:              {plain:6.1f} s  ratio {plain / bare:6.1f}")
        print(f"  the DOWN SQL alone through psql -1 (baseline):      {bare:6.1f} s")
        print(
            f"  whole-database backup: db-migrate backup create {whole:6.1f} s ({whole_manifest['format']}, "
            f"{mb(whole_manifest['size_bytes'])})  pg_dump -Fc {pg_dump:6.1f} s  ratio {whole / pg_dump:5.2f}",
            flush=True,
        )
    finally:
        pg_drop(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="database size for the overhead figures")
    parser.add_argument("--rollback-size-mb", type=int, default=1024, help="PostgreSQL database size for rollback")
    parser.add_argument("--runs", type=int, default=3, help="runs per overhead figure (median)")
    parser.add_argument("--rollback-runs", type=int, default=1, help="runs per rollback figure (median)")
    parser.add_argument("--only", default="pg,mysql,sqlite", help="comma-separated: pg, mysql, sqlite")
    parser.add_argument("--no-rollback", action="store_true", help="only the overhead figures")
    args = parser.parse_args(argv)
    if not Path(DB_MIGRATE).exists():
        raise SystemExit(f"{DB_MIGRATE} not found: run `make install` first")
    wanted = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="mm-bench-backup-") as tmp:
        folder = Path(tmp)
        print(f"backup overhead: db-migrate backup create vs the bare tool, medians of {args.runs} runs")
        for key, tool, bench in (
            ("pg", "pg_dump", overhead_pg),
            ("mysql", "mariadb-dump", overhead_mysql),
            ("sqlite", "sqlite3", overhead_sqlite),
        ):
            if key not in wanted:
                continue
            if shutil.which(tool) is None:
                print(f"  {key}: {tool} not installed, skipped")
                continue
            bench(args.size_mb, folder / key, args.runs)
        if not args.no_rollback and "pg" in wanted:
            print(
                f"\nroll back the last migration of a {args.rollback_size_mb} MB PostgreSQL database "
                f"(goal: well under {GOAL_S} s), medians of {args.rollback_runs} run(s)"
            )
            rollback_bench(args.rollback_size_mb, folder / "rollback", args.rollback_runs)


if __name__ == "__main__":
    main()
