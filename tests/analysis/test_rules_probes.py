"""Probes: one scan per table, a time budget that leaves figures unmeasured (never guessed), and a
stated sample on a huge table. The engines' bounded query leaves the session as it was."""

from __future__ import annotations

import time

import pytest
from sqlglot import exp

from migration_manager.analysis.probes import Budget, Probe, measure
from migration_manager.dialects import open_engine

from .rule_cases import analyze, one, seeded_database

SLOW = {
    "postgres": "SELECT pg_sleep(2)",
    "mysql": "SELECT SLEEP(2)",
    "sqlite": "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c",
}


def test_bounded_probe_gives_none_and_leaves_the_session_untouched(any_url):
    engine = open_engine(any_url)
    try:
        assert engine.probe_query(SLOW[engine.dialect], 50) is None
        assert engine.probe_query("SELECT 1", 1000) == [(1,)]
        if engine.dialect == "postgres":  # SET LOCAL ended with the probe's transaction
            assert engine.query("SHOW statement_timeout") == [("0",)]
            assert engine.query("SHOW transaction_read_only") == [("off",)]
    finally:
        engine.close()


@pytest.mark.postgres
def test_huge_table_is_sampled_with_a_stated_interval_that_holds_the_true_count(tmp_path):
    seed = [
        "CREATE TABLE big (id int PRIMARY KEY, v int)",
        "INSERT INTO big SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END FROM generate_series(1, 200000) g",
        "ANALYZE big",
    ]
    with seeded_database("postgres", seed) as url:
        engine = open_engine(url)
        try:
            nulls = exp.Is(this=exp.column("v", quoted=True), expression=exp.Null())
            probes = [Probe("nulls", "big", condition=nulls)]
            sampled = measure(engine, probes, Budget(sample_above_rows=50_000, sample_rows=40_000))["nulls"]
            exact = measure(engine, probes)["nulls"]
        finally:
            engine.close()
    assert (exact.value, exact.exact, exact.rows) == (20_000, True, 200_000)
    assert not sampled.exact and "page sample" in sampled.confidence
    low, high = (int(x.replace(",", "")) for x in sampled.confidence.split("interval ")[1].split(" ")[0].split(".."))
    assert low <= 20_000 <= high and low < sampled.value < high


@pytest.mark.postgres
def test_out_of_budget_figure_is_unknown_and_still_dangerous():
    seed = ["CREATE TABLE t (id int, bio text)", "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 10) g"]
    with seeded_database("postgres", seed) as url:
        engine = open_engine(url)
        try:
            probe = Probe("bio", "t", condition=exp.Not(this=exp.Is(this=exp.column("bio"), expression=exp.Null())))
            assert measure(engine, [probe], Budget(seconds=0))["bio"].value is None
        finally:
            engine.close()
        from migration_manager.analysis.findings import ScriptToCheck, find

        engine = open_engine(url)
        try:
            findings = find(
                engine, [ScriptToCheck("1", "up", ("ALTER TABLE t DROP COLUMN bio",), True)], budget=Budget(seconds=0)
            )
        finally:
            engine.close()
    finding = one(findings, "drop-column")
    assert finding.severity == "danger" and "unknown number of non-null values" in finding.message


@pytest.mark.postgres
def test_probes_on_one_table_share_one_scan():
    seed = [
        "CREATE TABLE t (id int, a text, b text)",
        "INSERT INTO t SELECT g, CASE WHEN g % 2 = 0 THEN 'x' END, CASE WHEN g % 3 = 0 THEN 'y' END "
        "FROM generate_series(1, 300) g",
    ]
    with seeded_database("postgres", seed) as url:
        before = _sequential_scans(url)
        findings = analyze(
            url,
            ["ALTER TABLE t DROP COLUMN a", "ALTER TABLE t ALTER COLUMN b SET NOT NULL", "DELETE FROM t WHERE id > 0"],
        )
        after = _sequential_scans(url, other_than=before)
    assert one(findings, "drop-column").counts["non_null_values"] == 150
    assert one(findings, "not-null-blocked").counts == {"nulls": 200}
    assert after - before == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "dml",
    [
        "UPDATE t AS x SET b = s.b FROM src s WHERE x.id = s.id",  # its row joined to another table's
        "WITH gone AS (SELECT id FROM src) DELETE FROM t WHERE id IN (SELECT id FROM gone)",
        "DELETE FROM t x WHERE EXISTS (SELECT 1 FROM src s WHERE s.id = x.id)",  # the alias inside a subquery
    ],
)
def test_a_data_change_that_reads_another_table_counts_as_the_whole_table(dml):
    # Its WHERE alone is no condition on t: probed as written, the scan failed and took the DROP COLUMN's
    # figure with it ("unknown number of non-null values", "UPDATE of an unknown number of rows").
    seed = [
        "CREATE TABLE t (id int, a text, b text)",
        "INSERT INTO t SELECT g, CASE WHEN g % 2 = 0 THEN 'x' END, NULL FROM generate_series(1, 30) g",
        "CREATE TABLE src (id int, b text)",
    ]
    with seeded_database("postgres", seed) as url:
        findings = analyze(url, ["ALTER TABLE t DROP COLUMN a", dml, "ALTER TABLE t ADD COLUMN c int"])
    assert one(findings, "drop-column").counts["non_null_values"] == 15
    assert not [f for f in findings if f.rule == "ddl-with-big-dml"], findings  # 30 rows at most: not big
    with seeded_database(
        "postgres", [*seed, "INSERT INTO t SELECT g, NULL, NULL FROM generate_series(31, 10030) g"]
    ) as url:
        big = one(analyze(url, [dml, "ALTER TABLE t ADD COLUMN c int"]), "ddl-with-big-dml")
    assert "up to 10,030 rows of t" in big.message, big.message


@pytest.mark.postgres
def test_a_figure_the_server_cannot_compute_leaves_the_others_of_its_table_measured():
    # The subquery reads a table the plan creates first: that one count fails on the live server, alone.
    seed = ["CREATE TABLE t (id int, a text)", "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 20) g"]
    with seeded_database("postgres", seed) as url:
        findings = analyze(
            url,
            [
                "CREATE TABLE keep (t_id int)",
                "DELETE FROM t WHERE id NOT IN (SELECT t_id FROM keep)",
                "ALTER TABLE t DROP COLUMN a",
            ],
        )
    assert one(findings, "drop-column").counts["non_null_values"] == 20


def _sequential_scans(url: str, other_than: int | None = None) -> int:
    """pg_stat_user_tables.seq_scan of t; with `other_than`, waits (briefly) for the count to move, since
    a session that just ended may still be flushing its statistics."""
    from dbcheck import query

    for _ in range(100):
        scans = query(url, "SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 't'")[0][0]
        if other_than is None or scans != other_than:
            return scans
        time.sleep(0.05)
    return scans


def test_every_count_form_counts_exactly_the_rows_where_its_condition_is_true(any_url):
    """The scan picks the cheapest aggregate per condition (COUNT(x), COUNT(*) - COUNT(x), COUNT(*),
    FILTER or CASE); each must give what a plain WHERE gives, NULLs and noise included."""
    engine = open_engine(any_url)
    try:
        engine.execute("CREATE TABLE t (id int, v int, s varchar(20))")
        for i in range(1, 13):  # v NULL on 3 rows; s NULL on 2, 'a' on 4, 'xy' on the other 6
            engine.execute(
                f"INSERT INTO t VALUES ({i}, {'NULL' if i % 4 == 0 else i}, "
                f"{'NULL' if i % 6 == 0 else repr('a' if i % 3 == 0 else 'xy')})"
            )
        v, s = exp.column("v", quoted=True), exp.column("s", quoted=True)
        conditions = {
            "v not null": exp.Not(this=exp.paren(v.is_(exp.null()))),
            "v null": v.is_(exp.null()),
            "every row": exp.true(),
            "v > 5, noise": exp.and_(exp.paren(v > 5), exp.paren(exp.true())),
            "s null, noise": exp.and_(exp.paren(s.is_(exp.null())), exp.paren(exp.true())),
            "not v > 5": exp.Not(this=exp.paren(v > 5)),
            "asked twice": v > 5,
            "s is not null": exp.condition("s IS NOT NULL"),
            "not (s is not null)": exp.condition("NOT (s IS NOT NULL)"),
        }
        measured = measure(engine, [Probe(name, "t", condition=c) for name, c in conditions.items()])
        expected = {
            name: engine.query(f"SELECT COUNT(*) FROM t WHERE {c.sql(dialect=engine.dialect)}")[0][0]
            for name, c in conditions.items()
        }
    finally:
        engine.close()
    assert {name: m.value for name, m in measured.items()} == expected
    assert expected == {
        "v not null": 9,
        "v null": 3,
        "every row": 12,
        "v > 5, noise": 5,
        "s null, noise": 2,
        "not v > 5": 4,
        "asked twice": 5,
        "s is not null": 10,
        "not (s is not null)": 2,
    }
    assert {m.rows for m in measured.values()} == {12}


@pytest.mark.parametrize(
    "kind, narrow",
    [("postgres", "ALTER TABLE t ALTER COLUMN s TYPE varchar(3)"), ("mysql", "ALTER TABLE t MODIFY s varchar(3)")],
)
def test_too_long_counts_characters_not_bytes(kind, narrow):
    """'ééé' has 6 bytes and fits varchar(3); the byte-length pre-check must not count it."""
    create = "CREATE TABLE t (id int PRIMARY KEY, s varchar(10))" + (
        " CHARACTER SET utf8mb4" if kind == "mysql" else ""
    )
    seed = [create, "INSERT INTO t VALUES (1, 'ééé'), (2, 'éééé'), (3, 'abcd'), (4, 'ab'), (5, NULL)"]
    with seeded_database(kind, seed) as url:
        finding = one(analyze(url, [narrow]), "type-narrowing")
    assert finding.counts == {"too_long": 2}


def test_duplicates_are_counted_alike_whether_the_distinct_check_finds_none_or_some(any_url):
    """COUNT(DISTINCT) answers 'no duplicate' alone; the GROUP BY runs only when a key repeats.
    NULL keys never collide, and a partial index's predicate limits the rows."""
    engine = open_engine(any_url)
    try:
        engine.execute("CREATE TABLE t (id int, a int, b int, c int)")
        for i in range(1, 11):  # a: 1..5 twice; (a, b) all distinct; c: NULL on even ids, else 7 (5 rows)
            engine.execute(f"INSERT INTO t VALUES ({i}, {(i + 1) // 2}, {i % 2}, {'NULL' if i % 2 == 0 else 7})")
        a, id_ = exp.column("a", quoted=True), exp.column("id", quoted=True)
        probes = [
            Probe("a", "t", "duplicates", columns=("a",)),
            Probe("a b", "t", "duplicates", columns=("a", "b")),
            Probe("id", "t", "duplicates", columns=("id",)),
            Probe("c", "t", "duplicates", columns=("c",)),
            Probe("a, id > 6", "t", "duplicates", columns=("a",), where=id_ > 6),
            Probe("a, id > 7", "t", "duplicates", columns=("a",), where=id_ > 7),
            Probe(
                "a + 0, b",
                "t",
                "duplicates",
                keys=(exp.Add(this=a, expression=exp.Literal.number(0)), exp.column("b", quoted=True)),
            ),
        ]
        measured = measure(engine, probes)
    finally:
        engine.close()
    assert {name: (m.value, m.groups) for name, m in measured.items()} == {
        "a": (10, 5),
        "a b": (0, 0),
        "id": (0, 0),
        "c": (5, 1),
        "a, id > 6": (4, 2),
        "a, id > 7": (2, 1),
        "a + 0, b": (0, 0),
    }


@pytest.mark.mysql
def test_counts_hold_under_high_not_precedence(mysql_url):
    """MySQL's HIGH_NOT_PRECEDENCE reads `NOT x IS NULL` as `(NOT x) IS NULL`: the probes and the queries
    they show say `x IS NOT NULL`."""
    from migration_manager.analysis.probes import not_null

    engine = open_engine(mysql_url)
    try:
        engine.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',HIGH_NOT_PRECEDENCE')")
        engine.execute("CREATE TABLE t (id int, k int, note text)")
        engine.execute("INSERT INTO t VALUES (1, 1, 'a'), (2, 1, NULL), (3, NULL, NULL), (4, NULL, 'b'), (5, 2, 'c')")
        note = exp.column("note", quoted=True)
        measured = measure(
            engine,
            [
                Probe("kept", "t", condition=not_null(note)),
                Probe("mixed", "t", condition=exp.and_(not_null(note), exp.column("id") > 1)),
                Probe("dup", "t", "duplicates", columns=("k",)),
            ],
        )
        listed = {name: len(engine.query(m.sql)) for name, m in measured.items()}
    finally:
        engine.close()
    assert {name: m.value for name, m in measured.items()} == {"kept": 3, "mixed": 2, "dup": 2}
    assert listed == {"kept": 3, "mixed": 2, "dup": 1}
