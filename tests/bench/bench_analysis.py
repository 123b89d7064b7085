"""Analysis benchmark: duration estimates against measured durations, and static analysis speed.

    python tests/bench/bench_analysis.py [--sizes 10000,100000,1000000] [--only pg,mysql,static,squawk]

1. Estimates: for tables of each size, every statement's estimated duration (impact report:
   catalog size x this server's measured throughput) next to the measured duration of the same
   statement on the same table; printed as the ratio estimate / measured (goal: within 2x).
2. Static analysis of 1,000 generated PostgreSQL migration files: per file, read + split (the
   baseline), syntax check (pglast), operations, lock claims, and the schema simulation of the
   whole plan (DOWN checks included), each as a ratio to the baseline.
3. squawk (`pip install squawk-cli`), when installed: the same 1,000 UP scripts, its findings and
   time beside ours. The data probes on a 1M-row table are measured by bench_probes.py.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

from migration_manager.analysis.impact.plan import impact_for_plan
from migration_manager.analysis.locks import Server, lock_impact
from migration_manager.analysis.operations import script_operations
from migration_manager.analysis.schema import Snapshot
from migration_manager.analysis.simulate import Replay, simulate
from migration_manager.dialects import open_engine
from migration_manager.dialects.postgres.schema import NAMING
from migration_manager.migrations.formats import read_file
from migration_manager.migrations.model import Migration, Script
from migration_manager.migrations.syntax import syntax_errors

NOISE_S = 0.02  # below this a measured duration is mostly client round trip: shown, not scored
REPEAT_BELOW_S = 2.0

# (statement, undo) on a table `big (id, v, label, pid)` with `parent (id)`
PG_CASES = [
    ("ALTER TABLE big ALTER COLUMN v TYPE bigint", None),
    ("CREATE INDEX big_v ON big (v)", None),
    ("CREATE INDEX big_label ON big (label)", None),
    ("CREATE INDEX CONCURRENTLY big_v_cc ON big (v)", "DROP INDEX big_v_cc"),
    ("ALTER TABLE big ADD CONSTRAINT big_v_positive CHECK (v >= 0)", None),
    ("ALTER TABLE big ALTER COLUMN v SET NOT NULL", None),
    ("ALTER TABLE big ADD CONSTRAINT big_parent FOREIGN KEY (pid) REFERENCES parent (id)", None),
    ("UPDATE big SET v = v + 1", None),
    ("ALTER TABLE big ADD COLUMN c int", None),
]
MYSQL_CASES = [
    ("ALTER TABLE big MODIFY v bigint", "ALTER TABLE big MODIFY v int"),
    ("ALTER TABLE big ADD INDEX big_v (v)", "ALTER TABLE big DROP INDEX big_v"),
    ("ALTER TABLE big ADD INDEX big_label (label)", "ALTER TABLE big DROP INDEX big_label"),
    ("ALTER TABLE big MODIFY v int NOT NULL", "ALTER TABLE big MODIFY v int NULL"),
    (
        "ALTER TABLE big ADD CONSTRAINT big_parent FOREIGN KEY (pid) REFERENCES parent (id)",
        "ALTER TABLE big DROP FOREIGN KEY big_parent, DROP INDEX big_parent",
    ),
    ("UPDATE big SET v = v + 1", None),
    ("ALTER TABLE big ADD COLUMN c int", "ALTER TABLE big DROP COLUMN c"),
]


# ---- 1. estimates against measured durations ------------------------------------------------------
def seed(kind: str, rows: int) -> str:
    name = f"mm_bench_{uuid.uuid4().hex[:8]}"
    if kind == "pg":
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        series, table = f"generate_series(1, {rows}) g", ""
    else:
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
        admin.close()
        url = f"mysql://root@127.0.0.1:3306/{name}"
        series, table = f"(SELECT seq AS g FROM seq_1_to_{rows}) s", " ENGINE=InnoDB"
    engine = open_engine(url)
    engine.execute(f"CREATE TABLE parent (id int PRIMARY KEY){table}")
    engine.execute(f"INSERT INTO parent SELECT g FROM {series.replace(str(rows), '1000')}")
    engine.execute(f"CREATE TABLE big (id bigint PRIMARY KEY, v int, label varchar(40), pid int){table}")
    engine.execute(
        f"INSERT INTO big SELECT g, g % 1000, md5(g), 1 + g % 1000 FROM {series}".replace(
            "md5(g)", "md5(g::text)" if kind == "pg" else "md5(g)"
        )
    )
    for statement in (
        ["VACUUM ANALYZE big", "VACUUM ANALYZE parent"]
        if kind == "pg"
        else ["ANALYZE TABLE big", "ANALYZE TABLE parent"]
    ):
        engine.query(statement) if kind == "mysql" else engine.execute(statement)
    engine.close()
    return url


def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _migration(sql: str) -> Migration:
    return Migration(
        version="1",
        name="bench",
        path=Path("1_bench.sql"),
        format="native",
        up=Script(statements=(sql,), source=sql),
        down=None,
        checksum="",
    )


def _measure(engine, kind: str, sql: str, undo: str | None) -> float:
    """Seconds the statement takes; PostgreSQL runs it in a transaction rolled back afterwards."""
    if kind == "pg" and undo is None:
        conn = engine.conn
        with conn.transaction(force_rollback=True):
            started = time.perf_counter()
            conn.execute(sql)
            return time.perf_counter() - started
    started = time.perf_counter()
    engine.execute(sql)
    took = time.perf_counter() - started
    if undo:
        engine.execute(undo)
    return took


def estimates(kind: str, sizes: list[int]) -> list[tuple[int, str, float, float]]:
    label = {"pg": "PostgreSQL", "mysql": "MariaDB"}[kind]
    cases = PG_CASES if kind == "pg" else MYSQL_CASES
    results = []
    for rows in sizes:
        url = seed(kind, rows)
        engine = open_engine(url)
        try:
            print(f"\n{label}, table of {rows:,} rows")
            print(f"  {'statement':<70} {'estimate':>9} {'measured':>9} {'est/meas':>9}  impact")
            for sql, undo in cases:
                [report] = impact_for_plan(engine, [_migration(sql)], activity_sample_s=0)
                measured = _measure(engine, kind, sql, undo)
                if measured < REPEAT_BELOW_S:  # short ones are noisy: the median of three
                    measured = statistics.median([measured] + [_measure(engine, kind, sql, undo) for _ in range(2)])
                ratio = report.estimated_seconds / measured
                scored = "" if measured >= NOISE_S else "  (below noise, not scored)"
                print(
                    f"  {sql[:70]:<70} {report.estimated_seconds:>8.3f}s {measured:>8.3f}s {ratio:>8.2f}x  "
                    f"{report.impact}{scored}"
                )
                if measured >= NOISE_S:
                    results.append((rows, sql, report.estimated_seconds, measured))
        finally:
            engine.close()
            drop(url)
    return results


def summarize(label: str, results: list[tuple[int, str, float, float]]) -> None:
    if not results:
        return
    factors = [max(e / m, m / e) for _, _, e, m in results]
    within = sum(1 for f in factors if f <= 2.0)
    log_errors = [abs(math.log(e / m)) for _, _, e, m in results]
    print(
        f"{label}: {within}/{len(results)} estimates within 2x of the measured duration; median error "
        f"{statistics.median(factors):.2f}x, geometric mean {math.exp(statistics.mean(log_errors)):.2f}x, "
        f"worst {max(factors):.2f}x"
    )


# ---- 2. static analysis of 1,000 files ---------------------------------------------------------------
def corpus(directory: Path, files: int) -> list[str]:
    """`files` native PostgreSQL migrations that build one schema, in the shapes real ones take."""
    ups = []
    for n in range(1, files + 1):
        t, prev = f"t{(n - 1) // 10}", f"t{(n - 1) // 10 - 1}"
        shape = (n - 1) % 10
        up, down = {
            0: (
                f"CREATE TABLE {t} (id bigint PRIMARY KEY, name varchar(100) NOT NULL, created_at timestamptz "
                f"DEFAULT now(), parent_id bigint);",
                f"DROP TABLE {t};",
            ),
            1: (f"ALTER TABLE {t} ADD COLUMN email text;", f"ALTER TABLE {t} DROP COLUMN email;"),
            2: (f"CREATE INDEX {t}_name ON {t} (name);", f"DROP INDEX {t}_name;"),
            3: (
                f"ALTER TABLE {t} ADD CONSTRAINT {t}_parent FOREIGN KEY (parent_id) REFERENCES "
                f"{prev if n > 10 else t} (id);",
                f"ALTER TABLE {t} DROP CONSTRAINT {t}_parent;",
            ),
            4: (
                f"ALTER TABLE {t} ALTER COLUMN name TYPE varchar(200);",
                f"ALTER TABLE {t} ALTER COLUMN name TYPE varchar(100);",
            ),
            5: (
                f"UPDATE {t} SET email = lower(name) WHERE email IS NULL;\n"
                f"ALTER TABLE {t} ALTER COLUMN email SET NOT NULL;",
                f"ALTER TABLE {t} ALTER COLUMN email DROP NOT NULL;",
            ),
            6: (f"CREATE INDEX CONCURRENTLY {t}_created ON {t} (created_at);", f"DROP INDEX CONCURRENTLY {t}_created;"),
            7: (
                f"ALTER TABLE {t} ADD CONSTRAINT {t}_name_len CHECK (char_length(name) > 0) NOT VALID;\n"
                f"ALTER TABLE {t} VALIDATE CONSTRAINT {t}_name_len;",
                f"ALTER TABLE {t} DROP CONSTRAINT {t}_name_len;",
            ),
            8: (
                f"ALTER TABLE {t} RENAME COLUMN email TO email_address;",
                f"ALTER TABLE {t} RENAME COLUMN email_address TO email;",
            ),
            9: (f"ALTER TABLE {t} ADD COLUMN score int DEFAULT 0;", f"ALTER TABLE {t} DROP COLUMN score;"),
        }[shape]
        (directory / f"{n:05d}_m{n}.sql").write_text(f"-- UP\n{up}\n-- DOWN\n{down}\n")
        ups.append(up)
    return ups


def static_analysis(files: int) -> tuple[Path, list, float]:
    directory = Path(tempfile.mkdtemp(prefix="mm_bench_corpus_"))
    ups = corpus(directory, files)
    paths = sorted(directory.glob("*.sql"))
    started = time.perf_counter()
    migrations = [read_file(p, "postgres") for p in paths]
    read_s = time.perf_counter() - started
    syntax_s = _timed(lambda: [syntax_errors(m, "postgres") for m in migrations])
    operations_s = _timed(lambda: [script_operations(m.up.statements, "postgres") for m in migrations])
    server = Server.parse("postgres", "PostgreSQL 15.0")

    def claims() -> int:
        replay, count = Replay(Snapshot("postgres", NAMING)), 0
        for migration in migrations:
            for op in script_operations(migration.up.statements, "postgres"):
                op = replay.schema.resolve(op)
                count += lock_impact(op, server, replay.schema).blocks_reads
                replay.run([op])
        return count

    locks_s = _timed(claims)
    findings: list = []
    simulate_s = _timed(lambda: findings.extend(simulate(Snapshot("postgres", NAMING), migrations)))
    per_file = lambda s: s / files * 1000  # noqa: E731 -- a one-line helper used just below
    print(
        f"\nStatic analysis of {files:,} PostgreSQL migration files ({sum(len(m.up.statements) for m in migrations):,} "
        f"UP statements)"
    )
    print(f"  baseline, read + split:       {per_file(read_s):7.3f} ms/file")
    for name, seconds in (
        ("syntax (pglast)", syntax_s),
        ("operations (sqlglot)", operations_s),
        ("lock claims + replay", locks_s),
        ("simulation, UP + DOWN", simulate_s),
    ):
        print(f"  {name:<29} {per_file(seconds):7.3f} ms/file = {seconds / read_s:5.2f}x the baseline")
    total = read_s + syntax_s + operations_s + locks_s + simulate_s
    print(f"  all of it:                    {per_file(total):7.3f} ms/file = {total / read_s:5.2f}x the baseline")
    print(f"  simulation findings: {len(findings)} ({_counts([f.rule for f in findings])})")
    squawk_dir = directory / "up_only"
    squawk_dir.mkdir()
    for n, up in enumerate(ups, start=1):
        (squawk_dir / f"{n:05d}.sql").write_text(up + "\n")
    return squawk_dir, migrations, total


def squawk(directory: Path, migrations: list, ours_s: float) -> None:
    binary = shutil.which("squawk") or shutil.which("squawk", path=str(Path(sys.executable).parent))
    if binary is None:
        print("\nsquawk: not installed (pip install squawk-cli); comparison skipped")
        return
    started = time.perf_counter()
    run = subprocess.run(
        [binary, "--reporter", "json", "--pg-version", "15.0", *sorted(map(str, directory.glob("*.sql")))],
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    violations = json.loads(run.stdout or "[]")
    server = Server.parse("postgres", "PostgreSQL 15.0")
    replay, ours = Replay(Snapshot("postgres", NAMING)), []
    for migration in migrations:
        for op in script_operations(migration.up.statements, "postgres"):
            op = replay.schema.resolve(op)
            claim = lock_impact(op, server, replay.schema)
            if claim.blocks_reads or claim.blocks_writes:
                work = (
                    "rewrite"
                    if claim.rewrites_table
                    else "scan"
                    if claim.scans_table
                    else "index build"
                    if claim.builds_index
                    else "brief"
                )
                ours.append(f"{claim.lock} ({work})")
            replay.run([op])
    print(
        f"\nsquawk {_version(binary)} on the same {len(migrations):,} UP scripts: {took:.2f} s "
        f"({took / len(migrations) * 1000:.2f} ms/file); ours, everything above: {ours_s:.2f} s "
        f"= {ours_s / took:.2f}x squawk's time"
    )
    print(f"  squawk findings: {len(violations)} ({_counts([v['rule_name'] for v in violations])})")
    print(f"  our lock claims that block traffic: {len(ours)} ({_counts(ours)})")


def _version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip().split()[-1]


def _counts(names: list[str]) -> str:
    counted: dict[str, int] = {}
    for name in names:
        counted[name] = counted.get(name, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counted.items(), key=lambda kv: -kv[1])) or "none"


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--only", default="pg,mysql,static,squawk")
    args = parser.parse_args()
    wanted = args.only.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    for kind, label in (("pg", "PostgreSQL"), ("mysql", "MariaDB")):
        if kind in wanted:
            summarize(f"{label} estimates", estimates(kind, sizes))
    if "static" in wanted or "squawk" in wanted:
        directory, migrations, ours_s = static_analysis(args.files)
        if "squawk" in wanted:
            squawk(directory, migrations, ours_s)
        shutil.rmtree(directory.parent)


if __name__ == "__main__":
    main()
