"""The labeled corpus on PostgreSQL: seeded data whose every count is known by construction, each
dangerous migration with its exact figures, each safe one with no warning or danger."""

from __future__ import annotations

import pytest

from .rule_cases import analyze, labels, one, seeded_database

pytestmark = pytest.mark.postgres

# users: 1000 rows. name: every 10th is 150 characters (100 rows), the rest 20. email 'u' || g % 950:
# 50 values (u1..u50) appear twice = 50 groups, 100 rows. bio: every 4th set (250), 750 NULL.
# score: every 100th is 5e9 (10 rows beyond int). balance: every 5th has .125 (200 rows), one is 1000.125.
# orders: 600 rows; user_id NULL every 50th (12), 5000+g for the other multiples of 20 (24 orphans),
# else 2..601 (exist). amount g % 10 - 3: negative for 3 of every 10 (180 rows).
# events: 20000 rows, kind 'a' on even ids (10000).
SEED = [
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(255), email text, bio text, score bigint, "
    "balance numeric(12,3), plan text)",
    "INSERT INTO users SELECT g, repeat('n', CASE WHEN g % 10 = 0 THEN 150 ELSE 20 END), 'u' || (g % 950), "
    "CASE WHEN g % 4 = 0 THEN 'bio' END, CASE WHEN g % 100 = 0 THEN 5000000000 ELSE g END, "
    "CASE WHEN g % 5 = 0 THEN g + 0.125 ELSE g END, 'free' FROM generate_series(1, 1000) g",
    "CREATE TABLE orders (id int PRIMARY KEY, user_id int, amount int, note text)",
    "INSERT INTO orders SELECT g, CASE WHEN g % 50 = 0 THEN NULL WHEN g % 20 = 0 THEN 5000 + g ELSE g % 1000 + 1 END, "
    "g % 10 - 3, NULL FROM generate_series(1, 600) g",
    "CREATE TABLE events (id int PRIMARY KEY, kind text)",
    "INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 20000) g",
    "CREATE TABLE empty_t (id int, x text)",
    # accounts: 30 rows; a view (follows a rename), a function naming accounts.handle, one naming accounts only
    "CREATE TABLE accounts (id int PRIMARY KEY, handle text)",
    "INSERT INTO accounts SELECT g, 'h' || g FROM generate_series(1, 30) g",
    "CREATE VIEW account_handles AS SELECT handle FROM accounts",
    "CREATE FUNCTION account_handle(i int) RETURNS text LANGUAGE sql AS $$ SELECT handle FROM accounts WHERE id = i $$",
    "CREATE FUNCTION account_count() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM accounts); END $$",
    "ANALYZE",
]


@pytest.fixture(scope="module")
def db():
    with seeded_database("postgres", SEED) as url:
        yield url


DANGEROUS = [  # (migration, {(rule, severity)}, rule to look at, its exact counts)
    (
        ["ALTER TABLE users DROP COLUMN bio"],
        {("drop-column", "danger")},
        "drop-column",
        {"rows": 1000, "non_null_values": 250},
    ),
    (["DROP TABLE orders"], {("drop-table", "danger")}, "drop-table", {"rows": 600}),
    (["TRUNCATE orders"], {("drop-table", "danger")}, "drop-table", {"rows": 600}),
    (
        ["ALTER TABLE users ALTER COLUMN name TYPE varchar(100)"],
        {("type-narrowing", "danger"), ("rewriting-type-change", "warning")},
        "type-narrowing",
        {"too_long": 100},
    ),
    (
        ["ALTER TABLE users ALTER COLUMN bio TYPE varchar(2)"],  # TEXT -> VARCHAR(n)
        {("type-narrowing", "danger"), ("rewriting-type-change", "warning")},
        "type-narrowing",
        {"too_long": 250},
    ),
    (
        ["ALTER TABLE users ALTER COLUMN score TYPE int"],
        {("type-narrowing", "danger"), ("rewriting-type-change", "warning")},
        "type-narrowing",
        {"out_of_range": 10},
    ),
    (
        ["ALTER TABLE users ALTER COLUMN balance TYPE numeric(5,2)"],
        {("type-narrowing", "danger"), ("rewriting-type-change", "warning")},
        "type-narrowing",
        {"overflow": 1, "rounded": 200},
    ),
    (
        ["ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)"],
        {("unique-duplicates", "danger"), ("index-not-concurrent", "warning")},
        "unique-duplicates",
        {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0},
    ),
    (
        ["CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)"],
        {("unique-duplicates", "danger")},
        "unique-duplicates",
        {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0},
    ),
    (
        ["ALTER TABLE users ALTER COLUMN bio SET NOT NULL"],
        {("not-null-blocked", "danger"), ("not-null-scan", "warning")},
        "not-null-blocked",
        {"nulls": 750},
    ),
    (
        ["ALTER TABLE users ADD COLUMN c int NOT NULL"],
        {("not-null-blocked", "danger")},
        "not-null-blocked",
        {"rows": 1000},
    ),
    (
        ["ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"],
        {("foreign-key-orphans", "danger"), ("constraint-not-valid", "warning")},
        "foreign-key-orphans",
        {"orphan_rows": 24},
    ),
    (
        ["ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID"],
        {("foreign-key-orphans", "warning")},
        "foreign-key-orphans",
        {"orphan_rows": 24},
    ),
    (
        ["ALTER TABLE orders ADD CONSTRAINT amount_ok CHECK (amount >= 0)"],
        {("check-violations", "danger"), ("constraint-not-valid", "warning")},
        "check-violations",
        {"violating_rows": 180},
    ),
    (
        ["ALTER TABLE events ADD COLUMN x int", "UPDATE events SET kind = 'c' WHERE kind = 'a'"],
        {("ddl-with-big-dml", "warning")},
        "ddl-with-big-dml",
        {"rows": 10000},
    ),
]


@pytest.mark.parametrize("migration, expected, rule, counts", DANGEROUS, ids=[c[0][-1][:60] for c in DANGEROUS])
def test_dangerous_migration_is_found_with_exact_counts(db, migration, expected, rule, counts):
    findings = analyze(db, migration)
    assert labels(findings) == expected
    found = one(findings, rule)
    assert found.counts == counts
    assert found.probe_sql


STATIC = [  # lock-heavy statements: no data to count, the finding comes from the lock model
    ("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()", "volatile-default"),
    ("ALTER TABLE users RENAME COLUMN name TO full_name", "rename-in-use"),
    ("CREATE INDEX users_plan_idx ON users (plan)", "index-not-concurrent"),
    ("ALTER TABLE users ALTER COLUMN plan SET NOT NULL", "not-null-scan"),  # no NULL, still a locked scan
]


@pytest.mark.parametrize("statement, rule", STATIC)
def test_lock_heavy_statement_is_a_warning_with_the_table_size(db, statement, rule):
    findings = analyze(db, [statement])
    assert labels(findings) == {(rule, "warning")}
    assert one(findings, rule).rows_total == 1000  # the catalog estimate, after ANALYZE


def test_index_rewrite_adds_concurrently(db):
    finding = one(analyze(db, ["CREATE UNIQUE INDEX users_plan_idx ON users (plan)"]), "index-not-concurrent")
    assert finding.safe_rewrite == "CREATE UNIQUE INDEX CONCURRENTLY users_plan_idx ON users (plan);"


SAFE = [
    ["ALTER TABLE users ADD COLUMN age int"],
    ["ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true"],
    ["CREATE INDEX CONCURRENTLY users_name_idx ON users (name)"],
    ["CREATE UNIQUE INDEX CONCURRENTLY users_email_recent ON users (email) WHERE id > 950"],  # unique among these
    [
        "ALTER TABLE orders ADD CONSTRAINT orders_id_fk FOREIGN KEY (id) REFERENCES users (id) NOT VALID",
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_id_fk",
    ],
    ["ALTER TABLE users ALTER COLUMN name TYPE varchar(300)"],
    [
        "ALTER TABLE users ADD CONSTRAINT plan_nn CHECK (plan IS NOT NULL) NOT VALID",  # not-null-scan's Good
        "ALTER TABLE users VALIDATE CONSTRAINT plan_nn",
        "ALTER TABLE users ALTER COLUMN plan SET NOT NULL",
        "ALTER TABLE users DROP CONSTRAINT plan_nn",
    ],
    ["DROP TABLE empty_t"],
    ["ALTER TABLE events ADD COLUMN x int", "DELETE FROM events WHERE id <= 100"],
    # a table the plan creates has no rows: nothing to probe, nothing blocked
    [
        "CREATE TABLE t2 (id int, u int)",
        "ALTER TABLE t2 ADD COLUMN c int NOT NULL",
        "CREATE UNIQUE INDEX ON t2 (u)",
        "ALTER TABLE t2 ADD CONSTRAINT t2_fk FOREIGN KEY (u) REFERENCES users (id)",
        "DROP TABLE t2",
    ],
]


@pytest.mark.parametrize("migration", SAFE, ids=[m[0][:60] for m in SAFE])
def test_safe_migration_has_no_warning_or_danger(db, migration):
    assert labels(analyze(db, migration)) == set()


def test_unique_index_on_an_expression_groups_by_the_expression(db):
    # emails u1..u50 collide twice each already; lower() adds nothing here, so the same 50 groups
    finding = one(analyze(db, ["CREATE UNIQUE INDEX CONCURRENTLY ux ON users (lower(email))"]), "unique-duplicates")
    assert finding.counts == {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0}
    assert 'GROUP BY LOWER("email")' in finding.probe_sql
    none = analyze(db, ["CREATE UNIQUE INDEX CONCURRENTLY ux ON users (lower(name), id)"])
    assert labels(none) == set()


def test_probes_follow_the_plan_renames_and_new_columns(db):
    findings = analyze(
        db,
        ["ALTER TABLE users RENAME TO people"],
        ["ALTER TABLE people DROP COLUMN bio"],
        ["ALTER TABLE people ADD COLUMN nick text", "ALTER TABLE people ALTER COLUMN nick SET NOT NULL"],
    )
    assert one(findings, "drop-column").counts == {"rows": 1000, "non_null_values": 250}
    assert (one(findings, "drop-column").migration, one(findings, "drop-column").table) == ("2", "people")
    assert one(findings, "not-null-blocked").counts == {"nulls": 1000}  # the new column is NULL in every row


def test_foreign_key_to_a_table_the_plan_creates_orphans_every_keyed_row(db):
    findings = analyze(
        db,
        [
            "CREATE TABLE plans (id int PRIMARY KEY)",
            "ALTER TABLE users ADD CONSTRAINT users_plan_fk FOREIGN KEY (id) REFERENCES plans (id)",
        ],
    )
    assert one(findings, "foreign-key-orphans").counts == {"orphan_rows": 1000}


def test_missing_lock_timeout_fires_once_per_migration_without_one(db):
    statements = ["ALTER TABLE users ADD COLUMN a int", "ALTER TABLE users ADD COLUMN b int"]
    findings = analyze(db, statements, lock_timeout_ms=None)
    assert [(f.rule, f.statement_index) for f in findings] == [("missing-lock-timeout", 1)]
    assert analyze(db, ["SET lock_timeout = '2s'", *statements], lock_timeout_ms=None) == []


def test_probe_queries_list_the_rows_behind_the_count(db):
    from dbcheck import query

    finding = one(analyze(db, ["ALTER TABLE users ALTER COLUMN name TYPE varchar(100)"]), "type-narrowing")
    assert len(query(db, finding.probe_sql)) == 100
    duplicates = one(analyze(db, ["CREATE UNIQUE INDEX CONCURRENTLY ux ON users (email)"]), "unique-duplicates")
    assert sum(row[-1] for row in query(db, duplicates.probe_sql)) == 100


@pytest.mark.parametrize(
    "statement, broken",
    [
        ("ALTER TABLE accounts RENAME COLUMN handle TO nick", ["function account_handle(integer)"]),
        ("ALTER TABLE accounts RENAME TO members", ["function account_count()", "function account_handle(integer)"]),
    ],
)
def test_rename_names_the_stored_functions_it_breaks_and_the_server_agrees(db, statement, broken):
    import psycopg

    found = one(analyze(db, [statement]), "rename-in-use")
    assert found.severity == "danger" and found.counts["broken_objects"] == len(broken)
    assert found.counts["writes"] == 30  # the seed's inserts, from pg_stat_user_tables
    assert all(name in found.message for name in broken)
    with psycopg.connect(db) as conn:  # rename for real, inside a transaction rolled back
        conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM account_handles").fetchone() == (30,)  # views follow
        for name in broken:  # every function named fails now: its body still says the old name
            call = name.split()[1].replace("(integer)", "(1)")
            with pytest.raises((psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable)), conn.transaction():
                conn.execute(f"SELECT {call}")
        conn.rollback()


FIX_FIRST = [  # the fix the rule recommends, earlier in the same plan: counted as after it, nothing is left
    (
        ["UPDATE users SET bio = '' WHERE bio IS NULL", "ALTER TABLE users ALTER COLUMN bio SET NOT NULL"],
        "not-null-blocked",
    ),
    (
        [
            "DELETE FROM users WHERE id NOT IN (SELECT min(id) FROM users GROUP BY email)",
            "CREATE UNIQUE INDEX users_email_key ON users (email)",
        ],
        "unique-duplicates",
    ),
    (
        [
            "UPDATE orders SET amount = 0 WHERE amount < 0",
            "ALTER TABLE orders ADD CONSTRAINT amount_ok CHECK (amount >= 0)",
        ],
        "check-violations",
    ),
    (
        ["UPDATE users SET name = left(name, 100)", "ALTER TABLE users ALTER COLUMN name TYPE varchar(100)"],
        "type-narrowing",
    ),
]


@pytest.mark.parametrize("migration, rule", FIX_FIRST, ids=[m[0][:40] for m, _ in FIX_FIRST])
def test_a_fix_earlier_in_the_plan_is_counted_and_the_server_agrees(db, migration, rule):
    import psycopg

    assert [f for f in analyze(db, migration) if f.rule == rule and f.severity != "info"] == []
    with psycopg.connect(db) as conn:  # the plan runs on the server (rolled back)
        for statement in migration:
            conn.execute(statement)
        conn.rollback()


def test_a_partial_fix_leaves_the_exact_rest_dangerous_and_the_server_agrees(db):
    import psycopg

    # bio is NULL in 750 rows; the backfill covers ids up to 500 only: 375 NULLs are left
    migration = [
        "UPDATE users SET bio = '' WHERE bio IS NULL AND id <= 500",
        "DELETE FROM users WHERE id > 900 AND bio IS NULL",  # 75 more gone
        "ALTER TABLE users ALTER COLUMN bio SET NOT NULL",
    ]
    found = one(analyze(db, migration), "not-null-blocked")
    assert (found.severity, found.counts) == ("danger", {"nulls": 300})
    assert "Counted as after the plan's earlier UPDATE users" in found.message
    with psycopg.connect(db) as conn:
        conn.execute(migration[0])
        conn.execute(migration[1])
        assert conn.execute("SELECT count(*) FROM users WHERE bio IS NULL").fetchone() == (300,)
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(migration[2])


FK = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id)"


@pytest.mark.parametrize(
    "fix, left",
    [
        ("DELETE FROM orders WHERE user_id NOT IN (SELECT id FROM users)", 0),
        ("UPDATE orders SET user_id = NULL WHERE user_id NOT IN (SELECT id FROM users)", 0),
        ("DELETE FROM orders WHERE user_id > 5500", 20),  # 4 of the 24 orphans
        ("UPDATE orders SET user_id = 1 WHERE user_id > 5300", 12),
    ],
)
def test_orphans_are_counted_after_the_plans_own_fix_and_the_server_agrees(db, fix, left):
    import psycopg

    found = [f for f in analyze(db, [fix, FK]) if f.rule == "foreign-key-orphans"]
    assert [f.counts for f in found] == ([{"orphan_rows": left}] if left else [])
    with psycopg.connect(db) as conn:  # rolled back
        conn.execute(fix)
        orphans = conn.execute(
            "SELECT count(*) FROM orders o WHERE user_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM users u WHERE u.id = o.user_id)"
        ).fetchone()[0]
        assert orphans == left
        conn.rollback()


def test_a_fix_the_probe_cannot_follow_makes_the_count_a_warning_measured_before_it(db):
    found = one(
        analyze(db, ["UPDATE orders o SET user_id = u.id FROM users u WHERE u.id = o.id", FK]), "foreign-key-orphans"
    )
    assert (found.severity, found.counts, found.exact) == ("warning", {"orphan_rows": 24}, False)
    assert "Measured before statement 1 (UPDATE orders)" in found.message


def test_a_data_change_of_other_columns_leaves_the_danger(db):
    import psycopg

    migration = ["UPDATE users SET plan = 'pro' WHERE id < 10", "ALTER TABLE users ALTER COLUMN bio SET NOT NULL"]
    found = one(analyze(db, migration), "not-null-blocked")
    assert found.severity == "danger" and "Measured before" not in found.message
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.NotNullViolation):
        for statement in migration:
            conn.execute(statement)


def test_a_fix_in_an_earlier_migration_counts_too(db):
    findings = analyze(
        db,
        ["UPDATE users SET bio = 'x' WHERE bio IS NULL AND id <= 100"],
        ["ALTER TABLE users ALTER COLUMN bio SET NOT NULL"],
    )
    assert one(findings, "not-null-blocked").counts == {"nulls": 675}


def test_deleting_rows_before_dropping_the_table_is_still_a_loss(db):
    found = one(analyze(db, ["DELETE FROM orders WHERE id <= 100", "DROP TABLE orders"]), "drop-table")
    assert found.severity == "danger" and found.counts == {"rows": 600}
