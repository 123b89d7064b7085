"""The corpus on SQLite: the data rules that apply there (SQLite has no ALTER COLUMN TYPE and no
lock levels to speak of)."""

from __future__ import annotations

import pytest

from .rule_cases import analyze, labels, one, seeded_database

SEED = [
    "CREATE TABLE users (id integer PRIMARY KEY, email text, bio text)",
    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000) "
    "INSERT INTO users SELECT n, 'u' || (n % 950), CASE WHEN n % 4 = 0 THEN 'bio' END FROM g",
    "CREATE TABLE empty_t (id integer)",
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with seeded_database("sqlite", SEED, tmp_path_factory.mktemp("rules")) as url:
        yield url


def test_drop_column_counts_the_values_lost(db):
    finding = one(analyze(db, ["ALTER TABLE users DROP COLUMN bio"]), "drop-column")
    assert (finding.severity, finding.counts) == ("danger", {"rows": 1000, "non_null_values": 250})
    assert finding.safe_rewrite.startswith("CREATE TABLE users_bio_archive AS SELECT id, bio FROM users")


def test_unique_index_counts_duplicates(db):
    finding = one(analyze(db, ["CREATE UNIQUE INDEX users_email ON users (email)"]), "unique-duplicates")
    assert finding.counts == {"duplicate_groups": 50, "duplicate_rows": 100, "null_key_rows": 0}


@pytest.mark.parametrize(
    "migration",
    [
        ["CREATE TABLE t (id integer)", "CREATE UNIQUE INDEX t_id ON t (id)", "DROP TABLE t"],
        ["ALTER TABLE users ADD COLUMN x text"],
        ["DROP TABLE empty_t"],
    ],
)
def test_safe_migration_has_no_finding_above_info(db, migration):
    assert labels(analyze(db, migration)) == set()
