"""The shadow strategy under a writer that never stops: after the swap, after complete and after a rollback, the
table holds exactly the rows the writer's log says (none lost, duplicated or stale), on both servers."""

from __future__ import annotations

from shadow_cases import ALTER, AMOUNT_TYPE, POLICY, amount_type, expected, fk_target, rows_of, seed, writing

from dbcheck import execute, kind, query, tables
from migration_manager.dialects import open_engine
from migration_manager.strategies import shadow


def test_swap_then_rollback_keeps_every_write(server_url, tmp_path):
    seeded = seed(server_url)
    engine = open_engine(server_url)
    old_type, new_type = AMOUNT_TYPE[kind(server_url)]
    with writing(server_url, tmp_path, "during-copy") as first:
        report = shadow.start(engine, ALTER[kind(server_url)], policy=POLICY)
        first.wait_for_writes(50)
    assert report.phase == "swapped" and report.rows_verified >= len(seeded)
    assert report.rows_copied > 0
    after_swap = expected(seeded, first)
    assert rows_of(server_url, "orders") == after_swap
    assert rows_of(server_url, "_mm_old_orders") == after_swap  # the reverse triggers kept it in step
    assert amount_type(server_url) == new_type and amount_type(server_url, "_mm_old_orders") == old_type
    assert fk_target(server_url) == "orders"
    assert shadow.phase(engine, "orders") == "swapped"
    assert [left.table for left in shadow.leftovers(engine)] == ["orders"]

    with writing(server_url, tmp_path, "after-swap") as second:
        assert shadow.rollback(engine, "orders") == "swapped"
        second.wait_for_writes(50)
    assert rows_of(server_url, "orders") == expected(seeded, first, second)
    assert amount_type(server_url) == old_type
    assert fk_target(server_url) == "orders"
    assert not {"_mm_old_orders", "_mm_new_orders"} & tables(server_url)
    assert shadow.leftovers(engine) == [] and shadow.phase(engine, "orders") == "none"
    engine.close()


def test_complete_drops_the_old_table_and_keeps_writes_flowing(server_url, tmp_path):
    seeded = seed(server_url)
    engine = open_engine(server_url)
    with writing(server_url, tmp_path) as writer:
        shadow.start(engine, ALTER[kind(server_url)], policy=POLICY)
        assert shadow.complete(engine, "orders")
        writer.wait_for_writes(50)
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert "_mm_old_orders" not in tables(server_url) and shadow.leftovers(engine) == []
    assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][1]
    # the foreign key into the table works on the new one: deleting an order deletes its items
    order = query(server_url, "SELECT min(order_id) FROM items")[0][0]
    execute(server_url, f"DELETE FROM orders WHERE id = {order}")
    assert query(server_url, f"SELECT count(*) FROM items WHERE order_id = {order}")[0][0] == 0
    assert not shadow.complete(engine, "orders")  # nothing left to complete
    engine.close()


def test_index_and_constraint_names_survive_the_swap(server_url, tmp_path):
    seed(server_url, rows=50)
    engine = open_engine(server_url)
    shadow.start(engine, ALTER[kind(server_url)], policy=POLICY)
    shadow.complete(engine, "orders")
    if kind(server_url) == "postgres":
        indexes = {r[0] for r in query(server_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")}
        assert indexes == {"orders_pkey", "orders_note"}
        fks = {r[0] for r in query(server_url, "SELECT conname FROM pg_constraint WHERE contype = 'f'")}
        assert fks == {"orders_parent", "items_order"}
        execute(server_url, "INSERT INTO orders (amount, note) VALUES (1, 'next id')")  # the sequence follows
        assert query(server_url, "SELECT max(id) FROM orders")[0][0] == 51
    else:
        indexes = {r[2] for r in query(server_url, "SHOW INDEX FROM orders")}
        assert {"PRIMARY", "orders_note"} <= indexes
        # InnoDB names foreign keys per database: the copies carry pt-osc's underscore-toggled names
        fks = {
            r[0]
            for r in query(
                server_url,
                "SELECT constraint_name FROM information_schema.referential_constraints "
                "WHERE constraint_schema = DATABASE()",
            )
        }
        assert fks == {"_orders_parent", "_items_order"}
    engine.close()


def test_verify_finds_a_copy_that_differs_and_copies_those_batches_again(server_url, tmp_path):
    seeded = seed(server_url)
    engine, top = open_engine(server_url), max(seeded)
    spoiled = []

    def spoil(what, _progress):  # what the copy's one race leaves (a row deleted after the batch's snapshot), and worse
        if what == "verify" and not spoiled:
            spoiled.append(True)
            execute(server_url, f"UPDATE _mm_new_orders SET note = 'stale' WHERE id = {top - 5}")
            execute(server_url, f"DELETE FROM _mm_new_orders WHERE id = {top - 10}")
            execute(server_url, f"INSERT INTO _mm_new_orders (id, amount, note) VALUES ({top + 10**6}, 1, 'ghost')")

    with writing(server_url, tmp_path) as writer:
        report = shadow.start(engine, ALTER[kind(server_url)], policy=POLICY, progress=spoil)
        writer.wait_for_writes(20)
    assert report.batches_recopied >= 1
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    engine.close()
