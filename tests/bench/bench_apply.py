"""Apply and status benchmark: `db-migrate` against each database's own client, same SQL, same run.

    python tests/bench/bench_apply.py [--migrations 300,1000] [--history 10000] [--runs 3] [--only pg,mysql,sqlite]

apply: N small native migrations (each `BEGIN; CREATE TABLE ...; ALTER TABLE ... ADD COLUMN ...; CREATE INDEX
...; COMMIT;` as `create` writes them) applied by `db-migrate apply` with every safety check on (one process,
wall clock from spawn to exit, a fresh database each run) versus
* the same files' UP SQL piped through the database's client in ONE session, in plain mode: every migration's
  BEGIN/COMMIT as written, so N transactions on PostgreSQL and SQLite (psql -X -q -v ON_ERROR_STOP=1; sqlite3),
  and N x 3 auto-committed DDL statements on MariaDB (mariadb). The client does none of our work (no lock, no
  history, no checks): the ratio is our whole overhead;
* Alembic (`alembic upgrade head`, one `op.execute` per statement, a transaction per migration), the peer that
  records a version and does no check.

status: `db-migrate status` with H history rows (and the H matching files on disk, as in a real
project) versus `SELECT * FROM schema_migrations` through the client.

Medians of --runs runs (the three take turns within each run); each figure printed with its ratio to the client
baseline and the goal (<= 1.5x).
The status floor: a Python process that imports its models costs ~0.4 s before it reads a file, which is
already ~3x `psql -c 'SELECT ...'`; 10,000 files cost ~0.2-0.3 ms each to read, split and checksum.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import resource
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
MY_HOST = ["-h", "127.0.0.1", "-P", "3306", "-uroot"]
DB_MIGRATE = str(Path(sys.executable).with_name("db-migrate"))
GOAL_RATIO = 1.5  # issues 3 and 11: within 1.5x of the raw client, and faster than Alembic


# ---- databases ------------------------------------------------------------------------------
class Postgres:
    label, client = "PostgreSQL", "psql"

    def create(self) -> str:
        name = f"mm_bench_{uuid.uuid4().hex[:10]}"
        _run(["psql", *PG_HOST, "-X", "-q", "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'])
        return name

    def drop(self, name: str) -> None:
        _run(["psql", *PG_HOST, "-X", "-q", "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    def sqlalchemy_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def client_script(self, name: str, script: Path) -> list[str]:
        return ["psql", *PG_HOST, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", str(script)]

    def client_query(self, name: str, sql: str) -> list[str]:
        return ["psql", *PG_HOST, "-X", "-q", "-d", name, "-c", sql]

    def seed_history(self, name: str, count: int) -> None:
        _run(self.client_query(name, _HISTORY_SEED_PG.format(n=count)))


class MariaDB:
    label, client = "MariaDB", "mariadb"

    def create(self) -> str:
        name = f"mm_bench_{uuid.uuid4().hex[:10]}"
        _run(["mariadb", *MY_HOST, "-e", f"CREATE DATABASE `{name}`"])
        return name

    def drop(self, name: str) -> None:
        _run(["mariadb", *MY_HOST, "-e", f"DROP DATABASE IF EXISTS `{name}`"])

    def url(self, name: str) -> str:
        return f"mysql://root@127.0.0.1:3306/{name}"

    def sqlalchemy_url(self, name: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:3306/{name}"

    def client_script(self, name: str, script: Path) -> list[str]:
        return ["sh", "-c", f"mariadb {' '.join(MY_HOST)} {name} < {script}"]

    def client_query(self, name: str, sql: str) -> list[str]:
        return ["mariadb", *MY_HOST, name, "-e", sql]

    def seed_history(self, name: str, count: int) -> None:
        _run(self.client_query(name, _HISTORY_SEED_MY.format(n=count)))


class SQLite:
    label, client = "SQLite", "sqlite3"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create(self) -> str:
        return str(self.folder / f"bench_{uuid.uuid4().hex[:10]}.db")

    def drop(self, name: str) -> None:
        for suffix in ("", ".migrate-lock", "-journal", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)

    def url(self, name: str) -> str:
        return f"sqlite:///{name}"

    def sqlalchemy_url(self, name: str) -> str:
        return f"sqlite:///{name}"

    def client_script(self, name: str, script: Path) -> list[str]:
        return ["sh", "-c", f"sqlite3 -bail {name} < {script}"]

    def client_query(self, name: str, sql: str) -> list[str]:
        return ["sqlite3", name, sql]

    def seed_history(self, name: str, count: int) -> None:
        _run(self.client_query(name, _HISTORY_SEED_SQLITE.format(n=count)))


# History rows as `db-migrate` writes them; the tables themselves come from a real `db-migrate` run.
_HISTORY_SEED_PG = """INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms, author, strategy,
 status, statements_done, statements_total, down_script)
 SELECT lpad(g::text, 8, '0'), 'm' || g, 'v1:' || md5(g::text), now(), 3, 'bench', 'online', 'applied', 2, 2,
 'DROP TABLE t' || g || ';' FROM generate_series(1, {n}) g ON CONFLICT DO NOTHING"""
_HISTORY_SEED_MY = """INSERT IGNORE INTO schema_migrations (version, name, checksum, applied_at, duration_ms, author,
 strategy, status, statements_done, statements_total, down_script)
 SELECT lpad(seq, 8, '0'), concat('m', seq), concat('v1:', md5(seq)), utc_timestamp(6), 3, 'bench', 'online',
 'applied', 2, 2, concat('DROP TABLE t', seq, ';') FROM seq_1_to_{n}"""
_HISTORY_SEED_SQLITE = """WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})
 INSERT OR IGNORE INTO schema_migrations (version, name, checksum, applied_at, duration_ms, author, strategy, status,
 statements_done, statements_total, down_script)
 SELECT printf('%08d', i), 'm' || i, 'v1:' || hex(randomblob(16)), strftime('%Y-%m-%dT%H:%M:%f+00:00'), 3, 'bench',
 'online', 'applied', 2, 2, 'DROP TABLE t' || i || ';' FROM g"""


# ---- workload -------------------------------------------------------------------------------
def migration_statements(i: int) -> list[str]:
    return [
        f"CREATE TABLE t{i} (id integer PRIMARY KEY, label varchar(40) NOT NULL)",
        f"ALTER TABLE t{i} ADD COLUMN note varchar(80)",
        f"CREATE INDEX t{i}_label ON t{i} (label)",
    ]


def write_migrations(folder: Path, count: int) -> Path:
    """`count` native migrations, and the client script with the same UP SQL in the same order."""
    folder.mkdir(parents=True)
    script_parts = []
    for i in range(1, count + 1):
        up = "".join(f"{statement};\n" for statement in migration_statements(i))
        (folder / f"{i:08d}_table_{i}.sql").write_text(
            f"-- author: bench\n-- UP\nBEGIN;\n{up}COMMIT;\n\n-- DOWN\nBEGIN;\nDROP TABLE t{i};\nCOMMIT;\n"
        )
        script_parts.append(f"BEGIN;\n{up}COMMIT;\n")
    script = folder.parent / f"{folder.name}.client.sql"
    script.write_text("".join(script_parts))
    return script


_ALEMBIC_ENV = """from alembic import context
from sqlalchemy import create_engine

connectable = create_engine(context.config.get_main_option("sqlalchemy.url"))
with connectable.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
"""


def write_alembic(folder: Path, count: int) -> Path:
    """The same migrations as an Alembic project: env.py and one revision file each, chained."""
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (folder / "env.py").write_text(_ALEMBIC_ENV)
    (folder / "script.py.mako").write_text("")
    for i in range(1, count + 1):
        down = repr(f"{i - 1:08d}") if i > 1 else "None"
        body = "".join(f"    op.execute({statement!r})\n" for statement in migration_statements(i))
        (versions / f"{i:08d}_table_{i}.py").write_text(
            f"from alembic import op\n\nrevision = {f'{i:08d}'!r}\ndown_revision = {down}\n\n\n"
            f"def upgrade():\n{body}\n\ndef downgrade():\n    op.execute('DROP TABLE t{i}')\n"
        )
    return folder


def alembic_upgrade(folder: Path, sqlalchemy_url: str) -> list[str]:
    """`alembic upgrade head` on `sqlalchemy_url` (its ini written now, outside the timed command)."""
    ini = folder / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {folder}\nsqlalchemy.url = {sqlalchemy_url}\n")
    return [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"]


def _run(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"benchmark command failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}"
        )
    return elapsed


def timed_fresh(db, runs: int, bodies: dict[str, Callable[[str], list[str]]]) -> dict[str, float]:
    """Median wall time of each `body(db_name)`, on a fresh database per run, with its median CPU time (user + sys
    of the command and its children: steadier than the wall clock on a busy machine) as `<name>_cpu`. The bodies
    take turns within each run, so a machine that slows down or speeds up during the bench weighs on all alike."""
    times: dict[str, list[float]] = {name: [] for name in bodies}
    cpu: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(runs):
        for name, body in bodies.items():
            database = db.create()
            try:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                times[name].append(_run(body(database)))
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            finally:
                db.drop(database)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return medians | {f"{name}_cpu": statistics.median(values) for name, values in cpu.items()}


def bench_apply(db, folder: Path, count: int, runs: int) -> dict[str, float]:
    """Median seconds of `db-migrate apply`, the client and (when installed) Alembic on `count` migrations."""
    migrations = folder / f"apply_{count}"
    script = write_migrations(migrations, count)
    bodies = {
        "ours": lambda name: [DB_MIGRATE, "--url", db.url(name), "--dir", str(migrations), "apply"],
        "client": lambda name: db.client_script(name, script),
    }
    if importlib.util.find_spec("alembic"):
        alembic = write_alembic(folder / f"alembic_{count}", count)
        bodies["alembic"] = lambda name: alembic_upgrade(alembic, db.sqlalchemy_url(name))
    return timed_fresh(db, runs, bodies)


def bench_status(db, folder: Path, count: int, runs: int) -> tuple[float, float]:
    migrations = folder / f"status_{count}"
    if not migrations.exists():
        migrations.mkdir(parents=True)
        for i in range(1, count + 1):
            (migrations / f"{i:08d}_m{i}.sql").write_text(
                f"-- UP\nCREATE TABLE t{i} (id integer);\n-- DOWN\nDROP TABLE t{i};\n"
            )
    name = db.create()
    try:
        # A real run creates the history tables; then the rows are seeded by SQL (applying 10k files is not the point).
        one = folder / "status_setup"
        if not one.exists():
            one.mkdir()
            (one / "00000000_setup.sql").write_text("-- UP\nCREATE TABLE setup_done (id integer);\n")
        _run([DB_MIGRATE, "--url", db.url(name), "--dir", str(one), "apply"])
        db.seed_history(name, count)
        _run(db.client_query(name, "DELETE FROM schema_migrations WHERE version = '00000000'"))
        status = [DB_MIGRATE, "--url", db.url(name), "--dir", str(migrations), "--json", "status"]
        ours = statistics.median(_run(status) for _ in range(runs))
        client = statistics.median(_run(db.client_query(name, "SELECT * FROM schema_migrations")) for _ in range(runs))
    finally:
        db.drop(name)
    return ours, client


def _goal(ratio: float) -> str:
    return f"  (goal <= {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'missed'})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--migrations",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[300, 1000],
        help="comma-separated counts (default 300,1000)",
    )
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="pg,mysql,sqlite", help="comma-separated: pg, mysql, sqlite")
    args = parser.parse_args(argv)
    if not Path(DB_MIGRATE).exists():
        raise SystemExit(f"{DB_MIGRATE} not found: run `make install` first")
    # Every command runs in the scratch folder: the settings of the project it is started from (this repository's
    # .claude/settings.json asks for the online strategy) are not the bench's, and its backups land there too.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        folder = Path(tmp)
        databases = {"pg": Postgres(), "mysql": MariaDB(), "sqlite": SQLite(folder)}
        print(f"db-migrate vs the database's client, medians of {args.runs} runs (wall clock, process included)")
        for key in args.only.split(","):
            db = databases[key]
            if shutil.which(db.client) is None:
                print(f"  {db.label}: {db.client} not installed, skipped")
                continue
            for count in args.migrations:
                times = bench_apply(db, folder / key / str(count), count, args.runs)
                ratio = times["ours"] / times["client"]
                alembic = (
                    f"  alembic {times['alembic']:6.2f} s (ratio {times['alembic'] / times['client']:5.2f}: we are "
                    f"{times['ours'] / times['alembic']:4.2f}x alembic; cpu {times['alembic_cpu']:5.2f} s)"
                    if "alembic" in times
                    else "  alembic not installed (pip install -e '.[bench]')"
                )
                print(
                    f"  {db.label:10} apply {count:5} migrations : {times['ours']:6.2f} s (cpu {times['ours_cpu']:5.2f} s)"
                    f"  ({db.client} one session: {times['client']:6.2f} s)  ratio {ratio:5.2f}{_goal(ratio)}{alembic}",
                    flush=True,
                )
            ours, client = bench_status(db, folder / key, args.history, args.runs)
            print(
                f"  {db.label:10} status, {args.history} history rows : {ours:6.2f} s  "
                f"({db.client} SELECT *:       {client:6.2f} s)  ratio {ours / client:5.2f}  (no goal: a new process "
                "that reads and checksums every file)",
                flush=True,
            )


if __name__ == "__main__":
    main()
