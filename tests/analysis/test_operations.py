"""SQL text -> operations, per dialect, without a database."""

from __future__ import annotations

import gc
import tracemalloc
from typing import get_args

import pytest

from migration_manager.analysis.model import Operation, OperationKind
from migration_manager.analysis.operations import KINDS, kind_class, parse, script_operations, statement_operations


def ops(sql: str, dialect: str = "postgres") -> list[dict]:
    return [
        op.model_dump(exclude_defaults=True, exclude={"statement", "statement_index"})
        for op in statement_operations(sql, dialect)
    ]


@pytest.mark.parametrize(
    "sql, dialect, expected",
    [
        ("ALTER TABLE users DROP COLUMN bio", "postgres", {"kind": "drop_column", "table": "users", "column": "bio"}),
        ("ALTER TABLE users DROP COLUMN bio", "sqlite", {"kind": "drop_column", "table": "users", "column": "bio"}),
        ("ALTER TABLE users DROP bio", "sqlite", {"kind": "drop_column", "table": "users", "column": "bio"}),
        ("ALTER TABLE users DROP `Bio`", "mysql", {"kind": "drop_column", "table": "users", "column": "Bio"}),
        (
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
            "postgres",
            {"kind": "set_not_null", "table": "users", "column": "name"},
        ),
        (
            "ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
            "postgres",
            {"kind": "drop_not_null", "table": "users", "column": "name"},
        ),
        (
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(100)",
            "postgres",
            {"kind": "alter_column_type", "table": "users", "column": "name", "new_type": "VARCHAR(100)"},
        ),
        (
            "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
            "postgres",
            {
                "kind": "add_constraint",
                "table": "orders",
                "constraint_name": "fk",
                "constraint_type": "foreign_key",
                "columns": ["user_id"],
                "ref_table": "users",
                "ref_columns": ["id"],
                "not_valid": True,
            },
        ),
        (
            "ALTER TABLE orders ADD CONSTRAINT ck CHECK (amount > 0)",
            "postgres",
            {
                "kind": "add_constraint",
                "table": "orders",
                "constraint_name": "ck",
                "constraint_type": "check",
                "check": "amount > 0",
            },
        ),
        (
            "ALTER TABLE orders VALIDATE CONSTRAINT fk",
            "postgres",
            {"kind": "validate_constraint", "table": "orders", "constraint_name": "fk"},
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX ix",
            "postgres",
            {
                "kind": "add_constraint",
                "table": "users",
                "constraint_name": "users_pkey",
                "constraint_type": "primary_key",
                "unique": True,
                "index_name": "ix",
                "detail": "using index",
            },
        ),
        (
            "ALTER TABLE users RENAME COLUMN a TO b",
            "postgres",
            {"kind": "rename_column", "table": "users", "column": "a", "new_name": "b"},
        ),
        (
            "ALTER TABLE users RENAME TO people",
            "postgres",
            {"kind": "rename_table", "table": "users", "new_name": "people"},
        ),
        ("RENAME TABLE users TO people", "mysql", {"kind": "rename_table", "table": "users", "new_name": "people"}),
        ("SET lock_timeout = '2s'", "postgres", {"kind": "set_lock_timeout", "column": "lock_timeout", "value": "2s"}),
        ("DELETE FROM users WHERE id < 10", "mysql", {"kind": "delete", "table": "users", "where": "id < 10"}),
        ("TRUNCATE users", "postgres", {"kind": "truncate", "table": "users"}),
        ("DROP INDEX ix ON users", "mysql", {"kind": "drop_index", "table": "users", "index_name": "ix"}),
    ],
)
def test_statement_gives_one_operation(sql, dialect, expected):
    assert ops(sql, dialect) == [expected]


def test_unique_index_concurrently_partial_on_expression():
    [op] = ops("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON users (lower(email)) WHERE deleted_at IS NULL")
    assert op == {
        "kind": "create_index",
        "table": "users",
        "index_name": "ix",
        "unique": True,
        "concurrently": True,
        "expression_index": True,
        "expressions": ["LOWER(email)"],
        "if_not_exists": True,
        "where": "deleted_at IS NULL",
    }


def test_add_columns_report_nullability_default_and_volatility():
    found = ops(
        "ALTER TABLE users ADD COLUMN c int NOT NULL DEFAULT 0, ADD COLUMN d uuid DEFAULT gen_random_uuid(), "
        "ADD COLUMN e timestamptz DEFAULT now()"
    )
    assert [(o["column"], o["nullable"], o["default"], o["default_volatile"]) for o in found] == [
        ("c", False, "0", False),
        ("d", True, "GEN_RANDOM_UUID()", True),
        ("e", True, "CURRENT_TIMESTAMP", False),
    ]


def test_mysql_modify_is_a_type_change_plus_not_null_with_its_algorithm():
    found = ops("ALTER TABLE users MODIFY COLUMN name VARCHAR(100) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE", "mysql")
    assert [(o["kind"], o["column"], o.get("new_type"), o["algorithm"], o["lock"]) for o in found] == [
        ("alter_column_type", "name", "VARCHAR(100)", "INPLACE", "NONE"),
        ("set_not_null", "name", None, "INPLACE", "NONE"),
    ]


def test_mysql_change_renames_and_retypes():
    found = ops("ALTER TABLE users CHANGE name full_name VARCHAR(100)", "mysql")
    assert [(o["kind"], o["column"], o.get("new_name")) for o in found] == [
        ("alter_column_type", "name", "full_name"),
        ("rename_column", "name", "full_name"),
    ]


def test_mysql_create_index_with_online_options():
    [op] = ops("CREATE UNIQUE INDEX ux ON users (email) ALGORITHM=INPLACE LOCK=NONE", "mysql")
    assert op == {
        "kind": "create_index",
        "table": "users",
        "index_name": "ux",
        "columns": ["email"],
        "unique": True,
        "expressions": ["email"],
        "algorithm": "INPLACE",
        "lock": "NONE",
    }


def test_mysql_add_unique_index_is_a_unique_constraint():
    [op] = ops("ALTER TABLE users ADD UNIQUE INDEX ux (email)", "mysql")
    assert (op["kind"], op["constraint_type"], op["columns"], op["index_name"]) == (
        "add_constraint",
        "unique",
        ["email"],
        "ux",
    )


def test_create_table_lists_columns_and_inline_constraints():
    [op] = ops(
        "CREATE TABLE t (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, "
        "uid int REFERENCES users(id), CHECK (id > 0))"
    )
    assert [(c["name"], c["type"], c.get("nullable", True)) for c in op["column_specs"]] == [
        ("id", "BIGSERIAL", False),
        ("email", "TEXT", False),
        ("uid", "INT", True),
    ]
    assert sorted((c["constraint_type"], c.get("ref_table")) for c in op["constraints"]) == [
        ("check", None),
        ("foreign_key", "users"),
    ]


def test_drop_of_several_tables_gives_one_operation_each():
    assert [(o["kind"], o["table"], o["cascade"]) for o in ops("DROP TABLE IF EXISTS a, b CASCADE")] == [
        ("drop_table", "a", True),
        ("drop_table", "b", True),
    ]


def test_unreadable_sql_is_other_not_a_crash():
    assert ops("this is not sql at all", "mysql") == [{"kind": "other"}]
    assert ops("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$") == [{"kind": "other"}]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize(
    "unreadable",
    ["CREATE TABLE q (a text DEFAULT 'unterminated)", "ALTER TABLE t ADD COLUMN c int DEFAULT ("],
    ids=["token_error", "parse_error"],
)
def test_a_statement_after_one_sqlglot_gives_up_on_reads_as_on_its_own(dialect, unreadable):
    """sqlglot's tokenizer and parser are reused from statement to statement: one left mid-statement by an
    error must not leak into the next."""
    assert ops(unreadable, dialect) == [{"kind": "other"}]
    table = f"after_{dialect}_{len(unreadable)}"  # a text of its own: not served from the parse cache
    assert ops(f"ALTER TABLE {table} ADD COLUMN c text DEFAULT 'x' NOT NULL", dialect) == [
        {
            "kind": "add_column",
            "table": table,
            "column": "c",
            "new_type": "TEXT",
            "nullable": False,
            "default": "'x'",
            "default_volatile": False,
        }
    ]


def test_a_large_statement_is_not_kept_once_read():
    """The reused tokenizer and parser let go of a statement's text and tokens (here ~6 MB) once it is read."""
    large = "UPDATE t SET a = CASE " + " ".join(f"WHEN id = {i} THEN {i}" for i in range(5_000)) + " END"
    tracemalloc.start()
    try:
        assert ops(large)[0]["kind"] == "update"
        parse._operations.cache_clear()  # the parse cache keeps the text as its key
        parse._placed.cache_clear()
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] < 1_000_000
    finally:
        tracemalloc.stop()


def test_names_made_up_for_unnamed_aliases_start_afresh_in_every_statement():
    """sqlglot's SQL generator is reused too, and it numbers the aliases it makes up (_t0, _t1...)."""
    wheres = [
        ops(f"DELETE FROM {table} WHERE id IN (SELECT a FROM (VALUES (1)) AS (a))")[0]["where"]
        for table in ("first_delete", "second_delete")
    ]
    assert wheres == ["id IN (SELECT a FROM (VALUES (1)) AS _t0(a))"] * 2


def test_script_numbers_statements_from_one():
    found = script_operations(["SET lock_timeout = '1s'", "ALTER TABLE t DROP COLUMN a, DROP COLUMN b"], "postgres")
    assert [(o.statement_index, o.kind) for o in found] == [
        (1, "set_lock_timeout"),
        (2, "drop_column"),
        (2, "drop_column"),
    ]
    assert found[1].statement == "ALTER TABLE t DROP COLUMN a, DROP COLUMN b"


def test_every_kind_of_operation_is_a_class_that_carries_its_behaviour():
    """Operation(kind=...) builds the kind's own class, parsed or made by hand, and copies keep it."""
    assert set(KINDS) == set(get_args(OperationKind))
    for kind in KINDS:
        cls = kind_class(kind)
        made = Operation(kind=kind, table="t")
        assert cls is not Operation and type(made) is cls and made.kind == kind
        assert type(made.model_copy(update={"statement_index": 2})) is cls
    assert [type(o).__name__ for o in statement_operations("ALTER TABLE t ADD c int, DROP COLUMN d", "postgres")] == [
        "AddColumn",
        "DropColumn",
    ]
    with pytest.raises(ValueError):
        Operation(kind="no_such_kind")
