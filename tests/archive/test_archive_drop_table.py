"""DROP TABLE keeps its rows: archived whole before the drop, inserted back when CREATE TABLE re-creates it."""

from __future__ import annotations

from pathlib import Path

from archive_helpers import apply, archive_tables, events, execute, query, rollback, rows, write

ORDERS = (
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(50) NOT NULL, total NUMERIC(10,2), "
    "note VARCHAR(200))"
)


def seeded_orders(project: Path) -> list[tuple]:
    write(project, "20240101000000", "orders", ORDERS, "DROP TABLE orders")
    apply(project)
    values = ", ".join(
        f"({i}, 'c{i % 7}', {i * 3}.25, {'NULL' if i % 5 == 0 else repr(f'note {i} ü')})" for i in range(1, 41)
    )
    execute(project, f"INSERT INTO orders (id, customer, total, note) VALUES {values}")
    return rows(project, "orders")


def test_dropped_table_rows_all_come_back_on_rollback(project: Path) -> None:
    before = seeded_orders(project)
    write(
        project,
        "20240102000000",
        "drop_orders",
        "DROP TABLE orders",
        [ORDERS, "CREATE INDEX orders_customer ON orders (customer)"],
    )

    applied = apply(project)

    step = applied.migrations[0].archives[0]
    assert (step.action, step.what, step.table, step.columns, step.keys, step.rows) == (
        "archive",
        "table",
        "orders",
        [],
        ["id"],
        40,
    )
    assert archive_tables(project) == {"_mm_archive_20240102000000_u1_orders"}
    assert query(project, "SELECT COUNT(*) FROM _mm_archive_20240102000000_u1_orders") == [(40,)]

    back = rollback(project)

    assert rows(project, "orders") == before
    # Put back after the DOWN's last statement (the CREATE INDEX), not right after its CREATE TABLE.
    assert [(s.action, s.statement_index, s.rows) for s in back.migrations[0].archives] == [("restore", 2, 40)]
    assert archive_tables(project) == set()
    assert [(e["action"], e["rows"]) for e in events(project)] == [("archive", 40), ("archive-restored", 40)]


def test_rows_of_a_table_the_down_drops_come_back_when_the_migration_is_applied_again(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(20))",
        "DROP TABLE tags",
    )
    apply(project)
    execute(project, "INSERT INTO tags VALUES (1, 'red'), (2, 'blue'), (3, NULL)")

    back = rollback(project)
    assert [(s.action, s.direction, s.rows) for s in back.migrations[0].archives] == [("archive", "down", 3)]
    assert archive_tables(project) == {"_mm_archive_20240101000000_d1_tags"}

    again = apply(project)
    assert [(s.action, s.rows) for s in again.migrations[0].archives] == [("restore", 3)]
    assert rows(project, "tags") == [(1, "red"), (2, "blue"), (3, None)]
    assert archive_tables(project) == set()


def test_table_without_key_gets_its_rows_back_when_re_created_empty(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "log",
        [
            "CREATE TABLE log (at VARCHAR(20), line VARCHAR(50))",
            "INSERT INTO log VALUES ('t1', 'a'), ('t1', 'a'), ('t2', NULL)",
        ],
        "DROP TABLE log",
    )
    apply(project)
    write(
        project, "20240102000000", "drop_log", "DROP TABLE log", "CREATE TABLE log (at VARCHAR(20), line VARCHAR(50))"
    )

    assert apply(project).migrations[0].archives[0].keys == []
    back = rollback(project)

    assert back.migrations[0].archives[0].rows == 3
    assert sorted(query(project, "SELECT at, line FROM log"), key=str) == sorted(
        [("t1", "a"), ("t1", "a"), ("t2", None)], key=str
    )  # duplicates too: whole rows, no key needed


def test_empty_table_is_not_archived(project: Path) -> None:
    write(project, "20240101000000", "orders", ORDERS, "DROP TABLE orders")
    apply(project)
    write(project, "20240102000000", "drop_orders", "DROP TABLE orders", ORDERS)

    assert apply(project).migrations[0].archives == []
    assert archive_tables(project) == set() and events(project) == []


def test_postgres_serial_and_identity_continue_after_the_restored_ids(pg_project: Path) -> None:
    tickets = "CREATE TABLE tickets (id SERIAL PRIMARY KEY, title TEXT)"
    stamps = "CREATE TABLE stamps (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title TEXT)"
    write(pg_project, "20240101000000", "tables", [tickets, stamps], ["DROP TABLE stamps", "DROP TABLE tickets"])
    apply(pg_project)
    execute(
        pg_project,
        "INSERT INTO tickets (title) VALUES ('a'), ('b'), ('c')",
        "INSERT INTO stamps (title) VALUES ('x'), ('y')",
    )
    write(pg_project, "20240102000000", "drop_both", ["DROP TABLE tickets", "DROP TABLE stamps"], [tickets, stamps])

    apply(pg_project)
    rollback(pg_project)

    assert rows(pg_project, "tickets") == [(1, "a"), (2, "b"), (3, "c")]
    assert rows(pg_project, "stamps") == [(1, "x"), (2, "y")]
    assert query(pg_project, "INSERT INTO tickets (title) VALUES ('d') RETURNING id") == [(4,)]
    assert query(pg_project, "INSERT INTO stamps (title) VALUES ('z') RETURNING id") == [(3,)]


def test_rollback_plan_says_which_losses_are_archived_first(project: Path, capsys) -> None:
    from migration_manager.surfaces.cli.app import main

    write(
        project,
        "20240101000000",
        "tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(20))",
        "DROP TABLE tags",
    )
    apply(project)
    execute(project, "INSERT INTO tags VALUES (1, 'red'), (2, 'blue')")

    from migration_manager import service

    plan = service.rollback(service.RollbackRequest(project_dir=project, env="dev", dry_run=True))
    (loss,) = plan.rollback_plan.steps[0].destroys
    assert loss.archived_into == "_mm_archive_20240101000000_d1_tags"
    assert plan.migrations[0].archived_rows == 2  # counted: a small table's catalog estimate may still say 0

    capsys.readouterr()
    main(["--project", str(project), "--env", "dev", "rollback", "--dry-run"])
    out = capsys.readouterr().out
    assert "archived first into _mm_archive_20240101000000_d1_tags" in out
    assert 'CREATE TABLE "_mm_archive_20240101000000_d1_tags" AS SELECT * FROM "tags"' in out.replace("`", '"')
    assert archive_tables(project) == set()
