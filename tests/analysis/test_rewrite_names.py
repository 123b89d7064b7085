"""Safe rewrites name tables and columns the way the server needs them: a name with a space, a reserved
word, or (PostgreSQL) capitals is quoted, and every rewrite runs as written on the real server."""

from __future__ import annotations

import pytest

from dbcheck import execute, query

from .rule_cases import analyze, one, seeded_database

MARIADB = [
    "CREATE TABLE `order items` (id int PRIMARY KEY, `unit price` int, `select` int)",
    "INSERT INTO `order items` VALUES (1, NULL, 1), (2, 3, 4)",
]
POSTGRES = [
    'CREATE TABLE "Order Items" (id int PRIMARY KEY, "Unit Price" int, "select" int)',
    'INSERT INTO "Order Items" VALUES (1, NULL, 1), (2, 3, 4)',
]

CASES = {
    "mysql": (
        MARIADB,
        [
            (
                "ALTER TABLE `order items` MODIFY `unit price` int NOT NULL",
                "not-null-blocked",
                "UPDATE `order items` SET `unit price` = <value> WHERE `unit price` IS NULL;",
            ),
            (
                "ALTER TABLE `order items` DROP COLUMN `select`",
                "drop-column",
                "CREATE TABLE `order items_select_archive` AS SELECT id, `select` FROM `order items` WHERE `select` IS NOT NULL;",
            ),
            (
                "ALTER TABLE `order items` ADD COLUMN `due date` int NOT NULL",
                "not-null-blocked",
                "ALTER TABLE `order items` ADD COLUMN `due date` INT NOT NULL DEFAULT <value>;",
            ),
            ("DROP TABLE `order items`", "drop-table", "ALTER TABLE `order items` RENAME TO `order items_retired`;"),
        ],
    ),
    "postgres": (
        POSTGRES,
        [
            (
                'ALTER TABLE "Order Items" ALTER COLUMN "Unit Price" SET NOT NULL',
                "not-null-blocked",
                'ALTER TABLE "Order Items" ADD CONSTRAINT "Order Items_Unit Price_not_null" CHECK ("Unit Price" IS NOT NULL) '
                "NOT VALID;",
            ),
            (
                'ALTER TABLE "Order Items" DROP COLUMN "select"',
                "drop-column",
                'CREATE TABLE "Order Items_select_archive" AS SELECT id, "select" FROM "Order Items" WHERE "select" IS NOT NULL;',
            ),
            ('DROP TABLE "Order Items"', "drop-table", 'ALTER TABLE "Order Items" RENAME TO "Order Items_retired";'),
            (
                'ALTER TABLE "Order Items" ADD CONSTRAINT "Price Key" UNIQUE (id, "select")',
                "index-not-concurrent",
                'CREATE UNIQUE INDEX CONCURRENTLY "Price Key" ON "Order Items" (id, "select");',
            ),
        ],
    ),
}


@pytest.mark.parametrize("kind, case", [(k, i) for k, (_, cases) in CASES.items() for i in range(len(cases))])
def test_the_rewrite_quotes_names_and_runs(kind: str, case: int, tmp_path) -> None:
    seed, cases = CASES[kind]
    statement, rule, expected_line = cases[case]
    with seeded_database(kind, seed) as url:
        rewrite = one(analyze(url, [statement]), rule).safe_rewrite
        assert any(line.startswith(expected_line) for line in rewrite.splitlines()), rewrite
        for line in rewrite.splitlines():  # one statement per line, "-- in batches" a trailing comment
            execute(url, line.split("  -- ")[0].rstrip(";").replace("<value>", "0"))
        assert (
            query(url, "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE %s", ("%rder %tems%",))[0][
                0
            ]
            >= 1
        )
