"""The labeled corpus on MariaDB: the same data as the PostgreSQL corpus, MySQL syntax, and the
online-DDL rule (ALGORITHM / LOCK) in place of the PostgreSQL lock rules."""

from __future__ import annotations

import pytest

from .rule_cases import analyze, labels, one, seeded_database

pytestmark = pytest.mark.mysql

# Same figures as test_rules_postgres.py: 100 long names, 50 duplicate emails (100 rows), 250 bios
# (750 NULL), 10 scores beyond INT, 200 balances with 3 decimals and one of 1000.125; 24 orphan
# orders, 180 negative amounts. seq_1_to_N is MariaDB's sequence engine.
SEED = [
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(255), email varchar(100), bio text, score bigint, "
    "balance decimal(12,3), plan varchar(20)) ENGINE=InnoDB",
    "INSERT INTO users SELECT seq, repeat('n', CASE WHEN seq % 10 = 0 THEN 150 ELSE 20 END), concat('u', seq % 950), "
    "CASE WHEN seq % 4 = 0 THEN 'bio' END, CASE WHEN seq % 100 = 0 THEN 5000000000 ELSE seq END, "
    "CASE WHEN seq % 5 = 0 THEN seq + 0.125 ELSE seq END, 'free' FROM seq_1_to_1000",
    "CREATE TABLE orders (id int PRIMARY KEY, user_id int, amount int, note text) ENGINE=InnoDB",
    "INSERT INTO orders SELECT seq, CASE WHEN seq % 50 = 0 THEN NULL WHEN seq % 20 = 0 THEN 5000 + seq "
    "ELSE seq % 1000 + 1 END, CAST(seq % 10 AS SIGNED) - 3, NULL FROM seq_1_to_600",
    "CREATE TABLE empty_t (id int, x text)",
    # accounts: a view and a trigger naming accounts.handle, a procedure naming accounts only
    "CREATE TABLE accounts (id int PRIMARY KEY, handle varchar(40)) ENGINE=InnoDB",
    "INSERT INTO accounts SELECT seq, concat('h', seq) FROM seq_1_to_30",
    "CREATE VIEW account_handles AS SELECT handle FROM accounts",
    "CREATE TRIGGER account_trim BEFORE INSERT ON accounts FOR EACH ROW SET NEW.handle = TRIM(NEW.handle)",
    "CREATE PROCEDURE account_total() SELECT count(*) FROM accounts",
    "ANALYZE TABLE users, orders",
]


@pytest.fixture(scope="module")
def db():
    with seeded_database("mysql", SEED) as url:
        yield url


COPY = ("mysql-online-ddl", "warning")
DANGEROUS = [
    (
        ["ALTER TABLE users DROP COLUMN bio"],
        {("drop-column", "danger")},
        "drop-column",
        {"rows": 1000, "non_null_values": 250},
    ),
    (["DROP TABLE orders"], {("drop-table", "danger")}, "drop-table", {"rows": 600}),
    (
        ["ALTER TABLE users MODIFY name VARCHAR(100)"],
        {("type-narrowing", "danger"), COPY},
        "type-narrowing",
        {"too_long": 100},
    ),
    (
        ["ALTER TABLE users MODIFY score INT"],
        {("type-narrowing", "danger"), COPY},
        "type-narrowing",
        {"out_of_range": 10},
    ),
    (
        ["ALTER TABLE users MODIFY balance DECIMAL(5,2)"],
        {("type-narrowing", "danger"), COPY},
        "type-narrowing",
        {"overflow": 1, "rounded": 200},
    ),
    (
        ["ALTER TABLE users MODIFY bio VARCHAR(2)"],
        {("type-narrowing", "danger"), COPY},
        "type-narrowing",
        {"too_long": 250},
    ),
    (
        ["ALTER TABLE users ADD UNIQUE INDEX users_email_key (email)"],
        {("unique-duplicates", "danger")},
        "unique-duplicates",
        {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0},
    ),
    (
        ["CREATE UNIQUE INDEX users_email_key ON users (email) ALGORITHM=INPLACE LOCK=NONE"],
        {("unique-duplicates", "danger")},
        "unique-duplicates",
        {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0},
    ),
    (
        ["ALTER TABLE users MODIFY bio TEXT NOT NULL"],
        {("not-null-blocked", "danger")},
        "not-null-blocked",
        {"nulls": 750},
    ),
    (
        ["ALTER TABLE users ADD COLUMN c INT NOT NULL"],
        {("not-null-blocked", "danger")},
        "not-null-blocked",
        {"rows": 1000},
    ),
    (
        ["ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"],
        {("foreign-key-orphans", "danger"), COPY},
        "foreign-key-orphans",
        {"orphan_rows": 24},
    ),
    (
        ["ALTER TABLE orders ADD CONSTRAINT amount_ok CHECK (amount >= 0)"],
        {("check-violations", "danger"), COPY},
        "check-violations",
        {"violating_rows": 180},
    ),
    (
        ["RENAME TABLE users TO people", "ALTER TABLE people DROP COLUMN bio"],
        {("drop-column", "danger"), ("rename-in-use", "warning")},
        "drop-column",
        {"rows": 1000, "non_null_values": 250},
    ),
]


@pytest.mark.parametrize("migration, expected, rule, counts", DANGEROUS, ids=[c[0][-1][:60] for c in DANGEROUS])
def test_dangerous_migration_is_found_with_exact_counts(db, migration, expected, rule, counts):
    findings = analyze(db, migration)
    assert labels(findings) == expected
    assert one(findings, rule).counts == counts


def test_unique_probe_query_lists_the_duplicate_groups(db):
    from dbcheck import query

    found = one(analyze(db, ["ALTER TABLE users ADD UNIQUE INDEX users_email_key (email)"]), "unique-duplicates")
    groups = query(db, found.probe_sql)
    assert len(groups) == 50 and sum(row[-1] for row in groups) == 100


def test_per_row_default_copies_the_table_and_says_how_to_avoid_it(db):
    findings = analyze(db, ["ALTER TABLE users ADD COLUMN token CHAR(36) DEFAULT (UUID())"])
    assert labels(findings) == {("volatile-default", "warning")}
    found = one(findings, "volatile-default")
    assert "LOCK=SHARED" in found.message and "writes wait" in found.message and found.rows_total == 1000
    assert found.safe_rewrite.splitlines()[0] == "ALTER TABLE users ADD COLUMN token CHAR(36);"


def test_rand_default_gives_every_existing_row_the_same_value(db):
    from dbcheck import query

    found = one(analyze(db, ["ALTER TABLE users ADD COLUMN r DOUBLE DEFAULT (RAND())"]), "volatile-default")
    assert "they all get the same value" in found.message
    # what the server does, on a scratch table: one value for the old rows, one each for new rows
    query(db, "CREATE TABLE rand_check AS SELECT id FROM users LIMIT 20")
    query(db, "ALTER TABLE rand_check ADD COLUMN r DOUBLE DEFAULT (RAND()), ALGORITHM=INSTANT")
    query(db, "INSERT INTO rand_check (id) VALUES (-1), (-2), (-3)")
    assert query(db, "SELECT COUNT(DISTINCT r) FROM rand_check WHERE id > 0") == [(1,)]
    assert query(db, "SELECT COUNT(DISTINCT r) FROM rand_check WHERE id < 0") == [(3,)]
    query(db, "DROP TABLE rand_check")


def test_missing_lock_timeout_fires_once_unless_the_migration_sets_one(db):
    statements = ["ALTER TABLE users ADD COLUMN a INT", "ALTER TABLE users ADD COLUMN b INT"]
    findings = analyze(db, statements, lock_timeout_ms=None)
    assert [(f.rule, f.statement_index) for f in findings if f.severity != "info"] == [("missing-lock-timeout", 1)]
    assert "SET SESSION lock_wait_timeout = 5;" in findings[0].safe_rewrite
    assert labels(analyze(db, ["SET SESSION lock_wait_timeout = 5", *statements], lock_timeout_ms=None)) == set()


def test_missing_default_on_mariadb_says_rows_get_a_fake_value(db):
    finding = one(analyze(db, ["ALTER TABLE users ADD COLUMN c INT NOT NULL"]), "not-null-blocked")
    assert "implicit value" in finding.message and "1,000 existing rows" in finding.message


def test_online_options_the_change_cannot_have_are_an_error(db):
    findings = analyze(db, ["ALTER TABLE users MODIFY name VARCHAR(100), ALGORITHM=INPLACE, LOCK=NONE"])
    refused = one(findings, "mysql-online-ddl")
    assert refused.severity == "error"
    assert "refuses ALGORITHM=INPLACE, LOCK=NONE" in refused.message and "ALGORITHM=COPY" in refused.message


SAFE = [
    ["ALTER TABLE users ADD COLUMN age INT"],
    ["ALTER TABLE users ADD COLUMN active TINYINT NOT NULL DEFAULT 1"],
    ["CREATE INDEX users_name_idx ON users (name)"],
    ["ALTER TABLE users MODIFY name VARCHAR(300)"],
    ["DROP TABLE empty_t"],
    ["ALTER TABLE orders ADD CONSTRAINT orders_id_fk FOREIGN KEY (id) REFERENCES users (id)"],  # COPY, but no orphans
    [
        "CREATE TABLE t2 (id int, u int)",
        "ALTER TABLE t2 ADD COLUMN c int NOT NULL",
        "CREATE UNIQUE INDEX t2u ON t2 (u)",
    ],
]


@pytest.mark.parametrize("migration", SAFE, ids=[m[0][:60] for m in SAFE])
def test_safe_migration_has_no_danger(db, migration):
    assert not [f for f in analyze(db, migration) if f.blocks]


@pytest.mark.parametrize(
    "statement, broken",
    [
        ("ALTER TABLE accounts RENAME COLUMN handle TO nick", ["view account_handles", "trigger account_trim"]),
        ("RENAME TABLE accounts TO members", ["view account_handles", "procedure account_total"]),  # the trigger moves
    ],
)
def test_rename_names_the_views_triggers_and_routines_it_breaks_and_the_server_agrees(db, statement, broken):
    import pymysql

    from dbcheck import connect

    found = one(analyze(db, [statement]), "rename-in-use")
    assert found.severity == "danger" and found.counts == {"broken_objects": len(broken)}
    assert all(name in found.message for name in broken)
    calls = {
        "view account_handles": "SELECT * FROM account_handles",
        "trigger account_trim": "INSERT INTO {table} (id, {column}) VALUES (99, ' x ')",
        "procedure account_total": "CALL account_total()",
    }
    table, column = ("members", "handle") if "RENAME TABLE" in statement else ("accounts", "nick")
    conn = connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)  # for real (MariaDB DDL commits): undone below
            for name in broken:
                with pytest.raises(pymysql.MySQLError):
                    cur.execute(calls[name].format(table=table, column=column))
            if "RENAME TABLE" in statement:
                cur.execute("INSERT INTO members VALUES (99, ' x ')")  # the trigger moved with its table
                cur.execute("SELECT handle FROM members WHERE id = 99")
                assert cur.fetchall() == (("x",),)
                cur.execute("DELETE FROM members WHERE id = 99")
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "RENAME TABLE members TO accounts"
                if "RENAME TABLE" in statement
                else "ALTER TABLE accounts RENAME COLUMN nick TO handle"
            )
        conn.close()


def test_a_backfill_earlier_in_the_plan_is_counted(db):
    assert (
        labels(
            analyze(db, ["UPDATE users SET bio = '' WHERE bio IS NULL", "ALTER TABLE users MODIFY bio TEXT NOT NULL"])
        )
        == set()
    )
    partial = one(
        analyze(
            db,
            ["UPDATE users SET bio = '' WHERE bio IS NULL AND id <= 500", "ALTER TABLE users MODIFY bio TEXT NOT NULL"],
        ),
        "not-null-blocked",
    )
    assert (partial.severity, partial.counts) == ("danger", {"nulls": 375})


def test_orphans_are_counted_after_the_plans_own_delete(db):
    fk = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"
    found = one(analyze(db, ["DELETE FROM orders WHERE user_id > 5500", fk]), "foreign-key-orphans")
    assert (found.severity, found.counts) == ("danger", {"orphan_rows": 20})
    assert "orphan_rows" not in {
        k for f in analyze(db, ["DELETE FROM orders WHERE user_id > 5000", fk]) for k in f.counts
    }
