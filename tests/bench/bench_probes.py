"""Data probes benchmark: analysing a migration on a 1M-row table versus one `SELECT count(*)` scan of it.

    python tests/bench/bench_probes.py [--rows 1000000] [--runs 5] [--only pg,mysql]

The migration asks six data questions of one table (values a DROP COLUMN loses, NULLs blocking
SET NOT NULL, values too long for a narrower VARCHAR, integers beyond INT, rows violating a CHECK,
rows an UPDATE touches): the rules' probes are combined into ONE scan. Goal (issue 4): <= 1.5x.

What a count(*) does not pay: it reads no column (PostgreSQL does not even split the row into its
columns; InnoDB counts records without copying them out), while each question must read its column and
evaluate its predicate on every row. So the bench also prints the floor (one scan reading the four
columns, no question asked), each question's own cost, and on MariaDB the DROP COLUMN of a VARCHAR beside
the TEXT one (InnoDB reads a TEXT column row by row, without its prefetch of rows). A UNIQUE question
needs a query of its own that compares every key with every other (a sort or a hash of every key:
PostgreSQL first asks COUNT(DISTINCT) and groups only when a key repeats; MariaDB groups by sorting):
printed beside the six, with and without it, on a key without duplicates (amount) and on one with (label).

Fair: one connection, warm caches (an untimed warm-up round first), every action once per round in
turn so that a shared machine's load falls on all alike, medians of --runs rounds.

The figures above are the analysis itself (analysis.findings.find, what `db-migrate analyze` runs on its
connection). Last, the whole command as a person runs it, in seconds: `db-migrate analyze` of the six
questions (a new Python process, connection, history, probes, and the impact report, which calibrates the
server's throughput and samples its load), the same with validation.performanceAnalysis off, and
`db-migrate status` (the floor of any command: a process that imports its models).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from migration_manager.analysis.findings import ScriptToCheck, find
from migration_manager.analysis.probes import Budget
from migration_manager.dialects import open_engine

MIGRATION = (
    "ALTER TABLE big DROP COLUMN note",
    "ALTER TABLE big ALTER COLUMN label SET NOT NULL",
    "ALTER TABLE big ALTER COLUMN label TYPE varchar(20)",
    "ALTER TABLE big ALTER COLUMN amount TYPE int",
    "ALTER TABLE big ADD CONSTRAINT big_amount_positive CHECK (amount > 0)",
    "UPDATE big SET label = 'x' WHERE id % 2 = 0",
)
MYSQL_MIGRATION = tuple(
    s.replace("ALTER COLUMN label SET NOT NULL", "MODIFY label VARCHAR(40) NOT NULL")
    .replace("ALTER COLUMN label TYPE varchar(20)", "MODIFY label VARCHAR(20)")
    .replace("ALTER COLUMN amount TYPE int", "MODIFY amount INT")
    for s in MIGRATION
)
UNIQUE = "ALTER TABLE big ADD CONSTRAINT big_amount_key UNIQUE (amount)"  # every key distinct: no duplicate
UNIQUE_REPEATED = "ALTER TABLE big ADD CONSTRAINT big_label_key UNIQUE (label)"  # 30 values, each repeated
DROP_VARCHAR = "ALTER TABLE big DROP COLUMN label"
SEPARATE = {
    "note IS NOT NULL": "DROP COLUMN note",
    "label IS NULL": "SET NOT NULL",
    "char_length(label) > 20": "varchar(20)",
    "amount NOT BETWEEN -2147483648 AND 2147483647": "INT",
    "NOT (amount > 0)": "CHECK",
    "id % 2 = 0": "UPDATE",
}
COLUMNS = "SELECT count(id), count(label), count(note), count(amount) FROM big"
GOAL_RATIO = 1.5  # issue 4


def seed_pg(rows: int) -> str:
    import psycopg

    name = f"mm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    engine = open_engine(url)
    engine.execute("CREATE TABLE big (id bigint PRIMARY KEY, label varchar(40), note text, amount bigint)")
    engine.execute(
        f"INSERT INTO big SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('l', g % 30) END, "
        f"CASE WHEN g % 3 = 0 THEN 'n' END, g - 10 FROM generate_series(1, {rows}) g"
    )
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
    engine.execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, label varchar(40), note text, amount bigint) ENGINE=InnoDB"
    )
    engine.execute(
        f"INSERT INTO big SELECT seq, CASE WHEN seq % 7 = 0 THEN NULL ELSE repeat('l', seq % 30) END, "
        f"CASE WHEN seq % 3 = 0 THEN 'n' END, CAST(seq AS SIGNED) - 10 FROM seq_1_to_{rows}"
    )
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


def timed_in_turn(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each action: an untimed warm-up round, then `runs` rounds of every action once."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for round_ in range(runs + 1):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            if round_:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def bench(label: str, url: str, statements: tuple[str, ...], runs: int, rows: int) -> None:
    engine = open_engine(url)
    transactional = engine.caps.transactional_ddl

    def analysis(*chosen: str, budget: Budget | None = None) -> Callable[[], list]:
        script = [ScriptToCheck("1", "up", chosen, transactional)]
        return lambda: find(engine, script, lock_timeout_ms=5000, budget=budget)

    actions = {
        "count": lambda: engine.query("SELECT count(*) FROM big"),
        "columns": lambda: engine.query(COLUMNS),
        "six": analysis(*statements),
        "one": analysis(statements[0]),
        "with unique": analysis(*statements, UNIQUE),
        "unique": analysis(UNIQUE),
        "unique repeated": analysis(UNIQUE_REPEATED),
    }
    actions.update({c: (lambda c=c: engine.query(f"SELECT count(*) FROM big WHERE {c}")) for c in SEPARATE})
    sampled_budget = Budget(sample_above_rows=100_000, sample_rows=100_000)
    if engine.sample_clause(1.0):
        actions["sampled"] = analysis(*statements, budget=sampled_budget)
    else:  # MariaDB: the TEXT column's cost shown against a VARCHAR's
        actions["one varchar"] = analysis(DROP_VARCHAR)
    median = timed_in_turn(actions, runs)
    count = median["count"]

    def line(what: str, seconds: float, goal: bool = False) -> str:
        verdict = f"  (goal <= {GOAL_RATIO}x: {'met' if seconds / count <= GOAL_RATIO else 'missed'})" if goal else ""
        return f"  {what}: {seconds * 1000:.0f} ms = {seconds / count:.2f}x one scan{verdict}"

    print(f"{label}: baseline SELECT count(*) = {count * 1000:.0f} ms (median of {runs} rounds)")
    print(line("floor: one scan reading the 4 columns, no question asked", median["columns"]))
    print(line("analysis, 6 data questions combined", median["six"], goal=True))
    print(line("analysis of DROP COLUMN alone (1 question, a TEXT column)", median["one"], goal=True))
    if "one varchar" in median:
        print(line("analysis of DROP COLUMN of a VARCHAR column instead", median["one varchar"], goal=True))
    print(
        "  each question as its own count(*) WHERE query: "
        + ", ".join(f"{what} {median[c] / count:.2f}x" for c, what in SEPARATE.items())
    )
    print(line("the same 6 questions one query each", sum(median[c] for c in SEPARATE)))
    print(
        line(
            f"with a 7th, UNIQUE (amount), {rows:,} distinct keys (a query of its own, sorting every key)",
            median["with unique"],
        )
        + f"; the UNIQUE alone {median['unique'] / count:.2f}x, "
        f"the six without it {median['six'] / count:.2f}x"
    )
    print(
        line(
            "UNIQUE (label) alone, 30 keys each repeated (the GROUP BY that counts the duplicates)",
            median["unique repeated"],
        )
    )
    everything = (*statements, UNIQUE, UNIQUE_REPEATED)
    for f in find(engine, [ScriptToCheck("1", "up", everything, transactional)], lock_timeout_ms=5000):
        if f.counts:
            print(f"    {f.rule}: {f.counts}")
    if "sampled" in median:
        one = next(f for f in analysis(*statements, budget=sampled_budget)() if f.rule == "drop-column")
        print(
            line("sampled (~100k rows read)", median["sampled"])
            + f"; drop-column {one.rows_affected:,} ({one.confidence})"
        )
    engine.close()


def command_line(url: str, statements: tuple[str, ...], runs: int) -> None:
    """`db-migrate analyze` and `status` end to end, each a new process, as a person runs them."""
    db_migrate = str(Path(sys.executable).with_name("db-migrate"))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "migrations").mkdir()
        (Path(folder) / "migrations" / "001_six_questions.sql").write_text(
            "-- UP\n" + "".join(f"{s};\n" for s in statements)
        )
        plain, no_impact = Path(folder) / "plain", Path(folder) / "no-impact"
        for project in (plain, no_impact):
            project.mkdir()
            (project / "migrations").symlink_to(Path(folder) / "migrations")
        (no_impact / "migration-manager.yaml").write_text("validation:\n  performanceAnalysis: false\n")

        def run(project: Path, *command: str) -> Callable[[], None]:
            def once() -> None:
                done = subprocess.run(
                    [db_migrate, "--url", url, "--json", *command],
                    cwd=project,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode not in (0, 1) or json.loads(done.stdout).get("error"):  # 1: dangers found
                    raise SystemExit(f"db-migrate {command[0]} failed: {done.stdout}{done.stderr}")

            return once

        median = timed_in_turn(
            {"analyze": run(plain, "analyze"), "no impact": run(no_impact, "analyze"), "status": run(plain, "status")},
            runs,
        )
    print(
        f"  db-migrate analyze, end to end: {median['analyze']:.2f} s; with performanceAnalysis off: "
        f"{median['no impact']:.2f} s; db-migrate status (a process's floor): {median['status']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="pg,mysql")
    args = parser.parse_args()
    wanted = args.only.split(",")
    for key, label, seed, statements in (
        ("pg", "PostgreSQL", seed_pg, MIGRATION),
        ("mysql", "MariaDB", seed_mysql, MYSQL_MIGRATION),
    ):
        if key not in wanted:
            continue
        url = seed(args.rows)
        try:
            bench(label, url, statements, args.runs, args.rows)
            command_line(url, statements, args.runs)
        finally:
            drop(url)


if __name__ == "__main__":
    main()
