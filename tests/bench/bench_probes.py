"""Data probes benchmark: analysing a migration on a 1M-row table versus one `SELECT count(*)` scan of it.

    python tests/bench/bench_probes.py [--rows 1000000] [--runs 3] [--only pg,mysql]

The migration asks six data questions of one table (values a DROP COLUMN loses, NULLs blocking
SET NOT NULL, values too long for a narrower VARCHAR, integers beyond INT, rows violating a CHECK,
rows an UPDATE touches): the rules' probes are combined into ONE scan. count(*) reads no column, so
each question adds the cost of evaluating its predicate per row: one question costs about one scan
(goal <= 1.5x), six cost less than asking them one query each (also printed). Also printed: the
sampled probe (TABLESAMPLE, PostgreSQL) with its stated interval. Medians of --runs runs, same run, same table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from migration_manager.analysis.findings import ScriptToCheck, find  # noqa: E402
from migration_manager.analysis.probes import Budget  # noqa: E402
from migration_manager.engines import open_engine  # noqa: E402

MIGRATION = (
    "ALTER TABLE big DROP COLUMN note",
    "ALTER TABLE big ALTER COLUMN label SET NOT NULL",
    "ALTER TABLE big ALTER COLUMN label TYPE varchar(20)",
    "ALTER TABLE big ALTER COLUMN amount TYPE int",
    "ALTER TABLE big ADD CONSTRAINT big_amount_positive CHECK (amount > 0)",
    "UPDATE big SET label = 'x' WHERE id % 2 = 0",
)
MYSQL_MIGRATION = tuple(s.replace("ALTER COLUMN label SET NOT NULL", "MODIFY label VARCHAR(40) NOT NULL")
                        .replace("ALTER COLUMN label TYPE varchar(20)", "MODIFY label VARCHAR(20)")
                        .replace("ALTER COLUMN amount TYPE int", "MODIFY amount INT") for s in MIGRATION)
SEPARATE = ("note IS NOT NULL", "label IS NULL", "char_length(label) > 20", "amount > 2147483647",
            "NOT (amount > 0)", "id % 2 = 0")


def seed_pg(rows: int) -> str:
    import psycopg

    name = f"mm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    engine = open_engine(url)
    engine.execute("CREATE TABLE big (id bigint PRIMARY KEY, label varchar(40), note text, amount bigint)")
    engine.execute(f"INSERT INTO big SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('l', g % 30) END, "
                   f"CASE WHEN g % 3 = 0 THEN 'n' END, g - 10 FROM generate_series(1, {rows}) g")
    engine.execute("VACUUM ANALYZE big")
    engine.close()
    return url


def seed_mysql(rows: int) -> str:
    import pymysql

    name = f"mm_bench_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{name}`")
    admin.close()
    url = f"mysql://root@127.0.0.1:3306/{name}"
    engine = open_engine(url)
    engine.execute("CREATE TABLE big (id bigint PRIMARY KEY, label varchar(40), note text, amount bigint) ENGINE=InnoDB")
    engine.execute(f"INSERT INTO big SELECT seq, CASE WHEN seq % 7 = 0 THEN NULL ELSE repeat('l', seq % 30) END, "
                   f"CASE WHEN seq % 3 = 0 THEN 'n' END, CAST(seq AS SIGNED) - 10 FROM seq_1_to_{rows}")
    engine.execute("ANALYZE TABLE big")
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


def timed(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench(label: str, url: str, statements: tuple[str, ...], runs: int) -> None:
    engine = open_engine(url)
    transactional = engine.caps.transactional_ddl
    script = [ScriptToCheck("1", "up", statements, transactional)]
    count = timed(lambda: engine.query("SELECT count(*) FROM big"), runs)
    analysis = timed(lambda: find(engine, script, lock_timeout_ms=5000), runs)
    single = [ScriptToCheck("1", "up", statements[:1], transactional)]
    one_question = timed(lambda: find(engine, single, lock_timeout_ms=5000), runs)
    separate = timed(lambda: [engine.query(f"SELECT count(*) FROM big WHERE {c}") for c in SEPARATE], runs)
    findings = find(engine, script, lock_timeout_ms=5000)
    print(f"{label}: baseline SELECT count(*) = {count * 1000:.0f} ms")
    print(f"  analysis, 6 data questions combined: {analysis * 1000:.0f} ms = {analysis / count:.2f}x one scan")
    print(f"  analysis of DROP COLUMN alone (1 question): {one_question * 1000:.0f} ms = "
          f"{one_question / count:.2f}x one scan")
    print(f"  the same 6 questions one query each: {separate * 1000:.0f} ms = {separate / count:.2f}x one scan")
    for f in findings:
        if f.counts:
            print(f"    {f.rule}: {f.counts}")
    if engine.sample_clause(1.0):
        budget = Budget(sample_above_rows=100_000, sample_rows=100_000)
        sampled = timed(lambda: find(engine, script, lock_timeout_ms=5000, budget=budget), runs)
        one = next(f for f in find(engine, script, lock_timeout_ms=5000, budget=budget) if f.rule == "drop-column")
        print(f"  sampled (~100k rows read): {sampled * 1000:.0f} ms = {sampled / count:.2f}x one scan; "
              f"drop-column {one.rows_affected:,} ({one.confidence})")
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="pg,mysql")
    args = parser.parse_args()
    wanted = args.only.split(",")
    for key, label, seed, statements in (("pg", "PostgreSQL", seed_pg, MIGRATION),
                                         ("mysql", "MariaDB", seed_mysql, MYSQL_MIGRATION)):
        if key not in wanted:
            continue
        url = seed(args.rows)
        try:
            bench(label, url, statements, args.runs)
        finally:
            drop(url)


if __name__ == "__main__":
    main()
