"""What the shadow tests share: the seeded tables, the ALTER per server, the writer process and the row checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shadow_writer import expected_rows

from dbcheck import execute, kind, query, wait_for
from migration_manager.strategies.batches import BatchPolicy

WRITER = Path(__file__).with_name("shadow_writer.py")
# Small batches: the copy and the verify span many batches while the writer writes.
POLICY = BatchPolicy(first_size=200, max_size=300, target_s=0.05)
ALTER = {
    "postgres": "ALTER TABLE orders ALTER COLUMN amount TYPE bigint, ALTER COLUMN note TYPE varchar(40), "
    "ADD COLUMN extra int DEFAULT 7",
    "mysql": "ALTER TABLE orders MODIFY amount bigint NOT NULL, MODIFY note varchar(40), ADD COLUMN extra int DEFAULT 7",
}
AMOUNT_TYPE = {"postgres": ("integer", "bigint"), "mysql": ("int(11)", "bigint(20)")}


def seed(url: str, rows: int = 3000) -> dict[int, tuple[int, str]]:
    """parent <- orders <- items (ON DELETE CASCADE): foreign keys out of and into the table being changed."""
    serial = "serial" if kind(url) == "postgres" else "int AUTO_INCREMENT"
    execute(url, "CREATE TABLE parent (id int PRIMARY KEY)")
    execute(url, "INSERT INTO parent (id) VALUES " + ", ".join(f"({i})" for i in range(1, 11)))
    execute(
        url,
        f"CREATE TABLE orders (id {serial} PRIMARY KEY, amount int NOT NULL, note varchar(20), "
        "parent_id int, CONSTRAINT orders_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
    )
    execute(url, "CREATE INDEX orders_note ON orders (note)")
    execute(
        url,
        "CREATE TABLE items (id int PRIMARY KEY, order_id int, "
        "CONSTRAINT items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE)",
    )
    values = ", ".join(f"({i}, 'n{i}', {1 + i % 10})" for i in range(1, rows + 1))
    execute(url, f"INSERT INTO orders (amount, note, parent_id) VALUES {values}")
    execute(
        url, "INSERT INTO items (id, order_id) VALUES " + ", ".join(f"({i}, {i})" for i in range(1, min(rows, 50) + 1))
    )
    return rows_of(url, "orders")


def rows_of(url: str, table: str) -> dict[int, tuple[int, str]]:
    return {r[0]: (int(r[1]), r[2]) for r in query(url, f"SELECT id, amount, note FROM {table}")}


def amount_type(url: str, table: str = "orders") -> str:
    if kind(url) == "postgres":
        sql = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'amount'"
    else:
        sql = (
            "SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = %s AND column_name = 'amount'"
        )
    return query(url, sql, (table,))[0][0]


def fk_target(url: str) -> str:
    """The table items' foreign key points at now."""
    if kind(url) == "postgres":
        sql = "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'"
    else:
        sql = (
            "SELECT referenced_table_name FROM information_schema.referential_constraints "
            "WHERE constraint_schema = DATABASE() AND table_name = 'items'"
        )
    return query(url, sql)[0][0]


class Writer:
    """The application: a process writing orders the whole time, its committed writes logged."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        self.log, self.stop_file = folder / f"{name}.log", folder / f"{name}.stop"
        self.process = subprocess.Popen([sys.executable, str(WRITER), url, str(self.log), str(self.stop_file)])

    def writes(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def wait_for_writes(self, more: int) -> None:
        target = self.writes() + more
        wait_for(lambda: self.writes() >= target or self.process.poll() is not None, f"{more} more writes")
        assert self.process.poll() is None, "the writer died (a write failed)"

    def stop(self) -> None:
        self.stop_file.touch()
        assert self.process.wait(timeout=60) == 0, "a write of the writer failed"


@contextmanager
def writing(url: str, folder: Path, name: str = "writer") -> Iterator[Writer]:
    writer = Writer(url, folder, name)
    try:
        writer.wait_for_writes(30)
        yield writer
    finally:
        if writer.process.poll() is None:
            writer.stop()


def expected(seeded: dict[int, tuple[int, str]], *writers: Writer) -> dict[int, tuple[int, str]]:
    rows = seeded
    for writer in writers:
        rows = expected_rows(rows, writer.log)
    return rows
