"""The shadow strategy's pure pieces: which statements it takes, the names it gives, the SQL text it rewrites."""

from __future__ import annotations

import pytest

from migration_manager.dialects.mysql import shadow as mysql_shadow
from migration_manager.dialects.postgres import shadow as postgres_shadow
from migration_manager.strategies.shadow import MAX_NAME, NEW, ShadowRefused, parse_alter, shadow_name


@pytest.mark.parametrize(
    ("statement", "name", "actions"),
    [
        ("ALTER TABLE orders ALTER COLUMN a TYPE bigint;", "orders", "ALTER COLUMN a TYPE bigint"),
        ('alter table only "Order Items" add column b int', '"Order Items"', "add column b int"),
        ("ALTER TABLE IF EXISTS `orders` MODIFY a bigint NOT NULL", "`orders`", "MODIFY a bigint NOT NULL"),
    ],
)
def test_parse_alter_keeps_the_name_and_the_actions_as_written(statement, name, actions):
    assert parse_alter(statement) == (name, actions)


@pytest.mark.parametrize("statement", ["UPDATE orders SET a = 1", "ALTER TABLE shop.orders ADD COLUMN b int"])
def test_parse_alter_refuses_other_statements_and_qualified_tables(statement):
    with pytest.raises(ShadowRefused):
        parse_alter(statement)


def test_long_names_are_shortened_with_a_stable_hash():
    long = "t" * 80
    first, second = shadow_name(NEW, long), shadow_name(NEW, long + "x")
    assert len(first) <= MAX_NAME and first.startswith(NEW) and first != second
    assert shadow_name(NEW, long) == first and shadow_name(NEW, "orders") == "_mm_new_orders"


def test_postgres_alter_names_the_copy_s_key_constraints():
    pairs = [("orders_pkey", "_mm_new_orders_pkey")]
    rewritten = postgres_shadow._on_the_copy("DROP CONSTRAINT orders_pkey, ADD PRIMARY KEY (id, at)", pairs)
    assert rewritten == 'DROP CONSTRAINT "_mm_new_orders_pkey", ADD PRIMARY KEY (id, at)'
    assert postgres_shadow._on_the_copy("DROP CONSTRAINT IF EXISTS other", pairs) == "DROP CONSTRAINT IF EXISTS other"


@pytest.mark.parametrize(
    ("column_type", "target"),
    [
        ("bigint(20)", "SIGNED"),
        ("int(10) unsigned", "UNSIGNED"),
        ("decimal(12,4)", "DECIMAL(12,4)"),
        ("datetime(3)", "DATETIME(3)"),
        ("timestamp", "DATETIME"),
        ("varchar(40)", "CHAR"),
        ("varbinary(16)", "BINARY"),
    ],
)
def test_mysql_compares_a_changed_column_as_its_new_type(column_type, target):
    assert mysql_shadow._cast_target(column_type) == target


def test_mysql_foreign_key_names_toggle_like_pt_osc():
    assert mysql_shadow._toggled("items_order") == "_items_order"
    assert mysql_shadow._toggled("_items_order") == "items_order"
