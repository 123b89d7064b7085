"""Schema-aware validation on MariaDB/MySQL, checked against the server like the PostgreSQL cases."""

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

pytestmark = pytest.mark.mysql

SETUP = [
    "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, name text) ENGINE=InnoDB",
    "CREATE TABLE orders (id int PRIMARY KEY, user_id bigint, total decimal(10, 2), "
    "CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id)) ENGINE=InnoDB",
    "INSERT INTO users VALUES (1, 'a@example.com', 'A')",
    "INSERT INTO orders VALUES (1, 1, 9.50)",
]

GOOD = [
    (
        "CREATE TABLE products (id bigint PRIMARY KEY, sku varchar(40) NOT NULL) ENGINE=InnoDB;\n"
        "ALTER TABLE orders ADD COLUMN product_id bigint;\n"
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_product FOREIGN KEY (product_id) REFERENCES products (id);\n"
        "CREATE INDEX orders_sku_idx ON orders (total);",
        "DROP INDEX orders_sku_idx ON orders;\nALTER TABLE orders DROP FOREIGN KEY fk_orders_product;\n"
        "ALTER TABLE orders DROP INDEX fk_orders_product;\n"
        "ALTER TABLE orders DROP COLUMN product_id;\nDROP TABLE products;",
    ),
    (
        "ALTER TABLE users MODIFY email varchar(320) NOT NULL;\nALTER TABLE users RENAME COLUMN name TO full_name;",
        "ALTER TABLE users RENAME COLUMN full_name TO name;\nALTER TABLE users MODIFY email varchar(255) NOT NULL;",
    ),
]

ERRORS = [
    ("missing table", [("ALTER TABLE nope ADD COLUMN x int;", None)], "schema-missing-table"),
    ("missing column", [("ALTER TABLE users DROP COLUMN nope;", None)], "schema-missing-column"),
    (
        "FK to a missing table",
        [("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES nope (id);", None)],
        "schema-fk-target",
    ),
    (
        "FK int to bigint",
        [
            (
                "CREATE TABLE notes (id int PRIMARY KEY, user_id int, "
                "CONSTRAINT fk_notes_user FOREIGN KEY (user_id) REFERENCES users (id));",
                None,
            )
        ],
        "schema-fk-type",
    ),
    (
        "index name taken on the table",
        [("ALTER TABLE users ADD INDEX email (name(20));", None)],
        "schema-duplicate-name",
    ),
    (
        "foreign key name taken in the database",
        [
            (
                "CREATE TABLE notes (id int PRIMARY KEY, user_id bigint, "
                "CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id));",
                None,
            )
        ],
        "schema-duplicate-name",
    ),
    (
        "table created twice",
        [("CREATE TABLE audit (id int);", None), ("CREATE TABLE audit (id int);", None)],
        "schema-already-exists",
    ),
    ("drop a referenced table", [("DROP TABLE users;", None)], "schema-still-referenced"),
]


@pytest.fixture
def engine(mysql_url):
    engine = open_engine(mysql_url)
    for statement in SETUP:
        engine.execute(statement)
    yield engine
    engine.close()


def test_good_migration_set_has_no_findings_and_runs(engine, tmp_path):
    assert_good_set_runs_clean(engine, tmp_path, "mysql", GOOD)


@pytest.mark.parametrize("name, scripts, rule", ERRORS, ids=[case[0] for case in ERRORS])
def test_error_finding_is_the_statement_the_server_refuses(engine, tmp_path, name, scripts, rule):
    assert_error_is_the_statement_the_server_refuses(engine, tmp_path, "mysql", scripts, rule)


def test_string_to_number_is_a_warning_and_strict_mode_refuses_values_that_do_not_convert(engine, tmp_path):
    migrations = write_migrations(tmp_path, "mysql", [("ALTER TABLE users MODIFY email int NOT NULL;", None)])
    findings = simulate(read_schema(engine), migrations)
    assert [(f.rule, f.severity) for f in findings] == [("schema-incompatible-type", "warning")]
    assert first_failure(engine, migrations) is not None  # 'a@example.com' is no number


def test_down_that_leaves_a_column_behind_is_reported_and_the_server_agrees(engine, tmp_path):
    migration = write_migrations(
        tmp_path,
        "mysql",
        [("CREATE TABLE audit (id int);\nALTER TABLE users ADD COLUMN phone varchar(20);", "DROP TABLE audit;")],
    )[0]
    findings = simulate(read_schema(engine), [migration])
    assert [f.rule for f in findings] == ["down-does-not-undo"]
    assert "users: column phone left behind" in findings[0].message
    before, after = shape_after_up_and_down(engine, migration)
    assert set(after["users"]["columns"]) - set(before["users"]["columns"]) == {"phone"}
