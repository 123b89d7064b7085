"""Schema-aware validation on PostgreSQL: every finding the simulation makes is checked against
the server (an error finding = the server refuses that very statement; no error = it runs)."""

from __future__ import annotations

import pytest

from migration_manager.analysis.schema import read_schema
from migration_manager.analysis.simulate import simulate
from migration_manager.dialects import open_engine

from .simulate_cases import (
    assert_error_is_the_statement_the_server_refuses,
    assert_good_set_runs_clean,
    first_failure,
    shape_after_up_and_down,
    write_migrations,
)

pytestmark = pytest.mark.postgres

SETUP = """
CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, name text);
CREATE TABLE orders (id int PRIMARY KEY, user_id bigint REFERENCES users (id), total numeric(10, 2));
INSERT INTO users VALUES (1, 'a@example.com', 'A');
INSERT INTO orders VALUES (1, 1, 9.50);
"""

GOOD = [
    (
        "CREATE TABLE products (id bigint PRIMARY KEY, sku varchar(40) NOT NULL);\n"
        "ALTER TABLE orders ADD COLUMN product_id bigint;\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_product_fk FOREIGN KEY (product_id) REFERENCES products (id);\n"
        "CREATE INDEX orders_product_idx ON orders (product_id);",
        "DROP INDEX orders_product_idx;\nALTER TABLE orders DROP CONSTRAINT orders_product_fk;\n"
        "ALTER TABLE orders DROP COLUMN product_id;\nDROP TABLE products;",
    ),
    (
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(320);\nALTER TABLE users RENAME COLUMN name TO full_name;\n"
        "ALTER TABLE users ADD CONSTRAINT users_name_present CHECK (full_name <> '') NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_name_present;",
        "ALTER TABLE users DROP CONSTRAINT users_name_present;\nALTER TABLE users RENAME COLUMN full_name TO name;\n"
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(255);",
    ),
]

# (name, migrations as (up, down), the error rule expected at the first failing statement)
ERRORS = [
    ("missing table", [("ALTER TABLE nope ADD COLUMN x int;", None)], "schema-missing-table"),
    ("missing column", [("ALTER TABLE users DROP COLUMN nope;", None)], "schema-missing-column"),
    ("index on a missing column", [("CREATE INDEX users_nope ON users (nope);", None)], "schema-missing-column"),
    ("update of a missing table", [("UPDATE nope SET x = 1;", None)], "schema-missing-table"),
    (
        "FK to a missing table",
        [("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES nope (id);", None)],
        "schema-fk-target",
    ),
    (
        "FK to a non-unique column",
        [("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (name);", None)],
        "schema-fk-target",
    ),
    (
        "FK of an incompatible type",
        [("CREATE TABLE notes (id int PRIMARY KEY, author int REFERENCES users (email));", None)],
        "schema-fk-type",
    ),
    ("type change that breaks a FK", [("ALTER TABLE users ALTER COLUMN id TYPE varchar(20);", None)], "schema-fk-type"),
    (
        "text to integer without USING",
        [("ALTER TABLE users ALTER COLUMN email TYPE integer;", None)],
        "schema-incompatible-type",
    ),
    (
        "time of day to timestamp",
        [("ALTER TABLE users ADD COLUMN at time;\nALTER TABLE users ALTER COLUMN at TYPE timestamp;", None)],
        "schema-incompatible-type",
    ),
    (
        "IF NOT EXISTS index on a missing column (PostgreSQL checks the columns before the name)",
        [
            (
                "CREATE INDEX orders_total_idx ON orders (total);\n"
                "CREATE INDEX IF NOT EXISTS orders_total_idx ON orders (nope);",
                None,
            )
        ],
        "schema-missing-column",
    ),
    (
        "index name taken by another table's index",
        [("CREATE INDEX users_email_key ON orders (total);", None)],
        "schema-duplicate-name",
    ),
    (
        "constraint name taken",
        [("ALTER TABLE orders ADD CONSTRAINT orders_pkey UNIQUE (total);", None)],
        "schema-duplicate-name",
    ),
    (
        "table created twice",
        [("CREATE TABLE audit (id int);", None), ("CREATE TABLE audit (id int);", None)],
        "schema-already-exists",
    ),
    (
        "column added twice",
        [("ALTER TABLE users ADD COLUMN phone text;", None), ("ALTER TABLE users ADD COLUMN phone varchar(20);", None)],
        "schema-already-exists",
    ),
    ("second primary key", [("ALTER TABLE orders ADD PRIMARY KEY (total);", None)], "schema-already-exists"),
    ("drop a referenced table", [("DROP TABLE users;", None)], "schema-still-referenced"),
    ("drop a referenced column", [("ALTER TABLE users DROP COLUMN id;", None)], "schema-still-referenced"),
    (
        "column renamed away earlier in the plan",
        [
            ("ALTER TABLE users RENAME COLUMN name TO full_name;", None),
            ("CREATE INDEX users_name ON users (name);", None),
        ],
        "schema-missing-column",
    ),
]


@pytest.fixture
def engine(pg_url):
    engine = open_engine(pg_url)
    engine.execute(SETUP)
    yield engine
    engine.close()


def test_good_migration_set_has_no_findings_and_runs(engine, tmp_path):
    assert_good_set_runs_clean(engine, tmp_path, "postgres", GOOD)


@pytest.mark.parametrize("name, scripts, rule", ERRORS, ids=[case[0] for case in ERRORS])
def test_error_finding_is_the_statement_the_server_refuses(engine, tmp_path, name, scripts, rule):
    assert_error_is_the_statement_the_server_refuses(engine, tmp_path, "postgres", scripts, rule)


@pytest.mark.parametrize(
    "sql, rule",
    [
        ("CREATE TABLE notes (id int PRIMARY KEY, user_id int REFERENCES users (id));", "schema-fk-type"),
    ],
)  # a table a DO block creates is unknown, not missing: no finding at all (test_simulate_histories.py)
def test_warning_findings_do_not_stop_what_the_server_runs(engine, tmp_path, sql, rule):
    migrations = write_migrations(tmp_path, "postgres", [(sql, None)])
    findings = simulate(read_schema(engine), migrations)
    assert [(f.rule, f.severity) for f in findings] == [(rule, "warning")]
    assert first_failure(engine, migrations) is None


def test_using_clause_makes_a_type_change_acceptable(engine, tmp_path):
    migrations = write_migrations(
        tmp_path,
        "postgres",
        [
            (
                "ALTER TABLE users ADD COLUMN age_text text;\n"
                "ALTER TABLE users ALTER COLUMN age_text TYPE integer USING age_text::integer;",
                None,
            )
        ],
    )
    assert simulate(read_schema(engine), migrations) == []
    assert first_failure(engine, migrations) is None


@pytest.mark.parametrize(
    "up, down, expected",
    [
        (
            "CREATE TABLE audit (id int);\nALTER TABLE users ADD COLUMN phone text;",
            "DROP TABLE audit;",
            "users: column phone left behind",
        ),
        (
            "ALTER TABLE users ADD COLUMN phone text;",
            "ALTER TABLE users DROP COLUMN phone;\nALTER TABLE orders DROP COLUMN total;",
            "orders: column total missing",
        ),
        (
            "ALTER TABLE users ALTER COLUMN email TYPE varchar(500);",
            "ALTER TABLE users ALTER COLUMN email TYPE text;",
            "users: column email is text NOT NULL, was varchar(255) NOT NULL",
        ),
        ("CREATE INDEX users_name_idx ON users (name);", "SELECT 1;", "users: index users_name_idx left behind"),
    ],
)
def test_down_that_does_not_undo_up_is_reported_and_the_server_agrees(engine, tmp_path, up, down, expected):
    migration = write_migrations(tmp_path, "postgres", [(up, down)])[0]
    findings = simulate(read_schema(engine), [migration])
    assert [f.rule for f in findings] == ["down-does-not-undo"]
    assert expected in findings[0].message
    before, after = shape_after_up_and_down(engine, migration)
    assert before != after


def test_down_that_would_fail_is_a_warning_not_an_error(engine, tmp_path):
    migration = write_migrations(
        tmp_path, "postgres", [("ALTER TABLE users ADD COLUMN phone text;", "ALTER TABLE users DROP COLUMN telephone;")]
    )[0]
    findings = simulate(read_schema(engine), [migration])
    assert ("schema-missing-column", "warning", "down") in {(f.rule, f.severity, f.direction) for f in findings}
    assert first_failure(engine, [migration]) is None
    assert first_failure(engine, [migration], "down") is not None
