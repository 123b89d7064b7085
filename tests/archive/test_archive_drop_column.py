"""DROP COLUMN keeps its values: archived before the drop, put back when the DOWN re-adds the column."""

from __future__ import annotations

from pathlib import Path

from archive_helpers import apply, archive_tables, dialect, events, execute, query, rollback, rows, write

from migration_manager import service

PEOPLE = (
    "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL, score INTEGER, "
    "bio VARCHAR(200) DEFAULT 'none')"
)
SEED = (
    "INSERT INTO people (id, email, score, bio) VALUES (1, 'a@x', 10, 'likes tea'), (2, 'b@x', NULL, NULL), "
    "(3, 'c@x', 30, 'Zoë — “quoted” ünïcode'), (4, 'd@x', 40, ''), (5, 'e@x', 50, 'none')"
)


def seeded(project: Path) -> list[tuple]:
    write(project, "20240101000000", "people", [PEOPLE, SEED], "DROP TABLE people")
    apply(project)
    execute(project, *[f"INSERT INTO people (id, email, bio) VALUES ({i}, 'u{i}@x', 'bio {i}')" for i in range(6, 60)])
    return rows(project, "people")


def test_dropped_column_values_all_come_back_on_rollback(project: Path) -> None:
    before = seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )

    applied = apply(project)

    run = applied.migrations[0]
    assert [(s.action, s.what, s.table, s.columns, s.keys, s.rows) for s in run.archives] == [
        ("archive", "column", "people", ["bio"], ["id"], 59)
    ]
    archive = run.archives[0].archive_table
    assert archive == "_mm_archive_20240102000000_u1_people_bio"
    assert archive_tables(project) == {archive}
    assert query(project, f"SELECT COUNT(*) FROM {archive}") == [(59,)]
    logged = events(project)
    assert [(e["action"], e["version"], e["archive_table"], e["rows"], e["keys"]) for e in logged] == [
        ("archive", "20240102000000", archive, 59, ["id"])
    ]
    assert logged[0]["summary"] == f"people.bio: 59 rows, {archive}"  # what `db-migrate history` shows

    back = rollback(project)

    assert rows(project, "people") == before  # every value, NULLs and the empty string included
    assert archive_tables(project) == set()
    restored = back.migrations[0].archives
    assert [(s.action, s.archive_table, s.rows, s.note) for s in restored] == [("restore", archive, 59, "")]
    assert [e["action"] for e in events(project)] == ["archive", "archive-restored"]
    assert events(project, "archive-restored")[0]["rows"] == 59


def test_values_come_back_after_apply_rollback_apply_rollback(project: Path) -> None:
    before = seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )
    for _ in range(2):
        apply(project)
        rollback(project)
        assert rows(project, "people") == before
    assert archive_tables(project) == set()
    assert [e["action"] for e in events(project)] == ["archive", "archive-restored"] * 2


def test_rows_inserted_after_the_drop_keep_the_default_and_deleted_rows_are_said(project: Path) -> None:
    seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )
    apply(project)
    execute(project, "DELETE FROM people WHERE id IN (1, 2)", "INSERT INTO people (id, email) VALUES (100, 'new@x')")

    back = rollback(project)

    step = back.migrations[0].archives[0]
    assert (step.action, step.rows, step.note) == ("restore", 57, "2 archived row(s) no longer exist in people")
    assert query(project, "SELECT bio FROM people WHERE id IN (3, 100) ORDER BY id") == [
        ("Zoë — “quoted” ünïcode",),
        ("none",),
    ]


def test_the_data_loss_finding_names_the_archive_that_keeps_the_values(project: Path) -> None:
    seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )

    plan = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))

    (loss,) = [f for f in plan.findings if f.rule == "drop-column"]
    assert loss.rows_affected == 58  # 59 rows, one NULL bio
    assert loss.message.endswith(
        "They are archived first into _mm_archive_20240102000000_u1_people_bio: "
        "a rollback of 20240102000000 puts them back."
    )


def test_switch_off_archives_nothing(project: Path) -> None:
    import json

    settings = project / ".claude" / "settings.json"
    config = json.loads(settings.read_text())
    config["skills"]["migration-manager"]["rollback"] = {"archiveDestroyedData": False}
    settings.write_text(json.dumps(config))
    seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )

    assert "archived first" not in next(
        f.message
        for f in service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True)).findings
        if f.rule == "drop-column"
    )
    assert apply(project).migrations[0].archives == []
    assert archive_tables(project) == set()
    rollback(project)
    assert query(project, "SELECT DISTINCT bio FROM people") == [("none",)]  # the values are gone: nothing kept them
    assert events(project) == []


def test_dry_run_shows_the_archive_sql_and_changes_nothing(project: Path) -> None:
    seeded(project)
    write(
        project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )

    plan = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))

    step = plan.migrations[0].archives[0]
    q = "`" if dialect(project) == "mysql" else '"'
    assert step.action == "archive" and step.rows is None
    assert step.sql[-1] == (
        f"CREATE TABLE {q}_mm_archive_20240102000000_u1_people_bio{q} AS SELECT {q}id{q}, {q}bio{q} FROM {q}people{q}"
    )
    assert plan.migrations[0].archived_rows == step.rows_estimate
    assert archive_tables(project) == set()

    apply(project)
    rollback_plan = service.rollback(service.RollbackRequest(project_dir=project, env="dev", dry_run=True))
    restore = rollback_plan.migrations[0].archives[0]
    assert restore.action == "restore" and restore.rows_estimate == 59
    assert restore.sql[0].startswith("UPDATE") and restore.sql[-1].startswith("DROP TABLE IF EXISTS")
    assert len(archive_tables(project)) == 1  # a dry run restores nothing


def test_table_without_key_says_its_values_cannot_be_archived(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "notes",
        [
            "CREATE TABLE notes (body VARCHAR(50), tag VARCHAR(10))",
            "INSERT INTO notes VALUES ('one', 'a'), ('two', 'b')",
        ],
        "DROP TABLE notes",
    )
    apply(project)
    write(
        project,
        "20240102000000",
        "drop_tag",
        "ALTER TABLE notes DROP COLUMN tag",
        "ALTER TABLE notes ADD COLUMN tag VARCHAR(10)",
    )

    plan = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))
    done = apply(project)

    for run in (plan.migrations[0], done.migrations[0]):
        assert [(s.action, s.target) for s in run.archives] == [("not-archived", "notes.tag")]
        assert run.archives[0].note == (
            "values of notes.tag cannot be archived by key: no primary key or unique NOT NULL key; no backup holds "
            "them (autoBackup is off): take one first (`db-migrate backup create`)"
        )
    assert archive_tables(project) == set()


def test_unique_not_null_key_serves_when_there_is_no_primary_key(project: Path) -> None:
    write(
        project,
        "20240101000000",
        "codes",
        [
            "CREATE TABLE codes (code VARCHAR(10) NOT NULL, label VARCHAR(50))",
            "CREATE UNIQUE INDEX codes_code ON codes (code)",
            "INSERT INTO codes VALUES ('a', 'Alpha'), ('b', NULL)",
        ],
        "DROP TABLE codes",
    )
    apply(project)
    write(
        project,
        "20240102000000",
        "drop_label",
        "ALTER TABLE codes DROP COLUMN label",
        "ALTER TABLE codes ADD COLUMN label VARCHAR(50)",
    )

    assert apply(project).migrations[0].archives[0].keys == ["code"]
    rollback(project)
    assert rows(project, "codes", "code") == [("a", "Alpha"), ("b", None)]


def test_postgres_no_transaction_migration_archives_without_a_table_lock(pg_project: Path) -> None:
    before = seeded(pg_project)
    path = write(
        pg_project,
        "20240102000000",
        "drop_bio",
        "ALTER TABLE people DROP COLUMN bio",
        "ALTER TABLE people ADD COLUMN bio VARCHAR(200) DEFAULT 'none'",
    )
    path.write_text("-- no-transaction\n" + path.read_text())

    run = apply(pg_project).migrations[0]

    assert run.mode == "per-statement"
    assert [s.sql[0].split()[0] for s in run.archives] == ["CREATE"]  # LOCK TABLE needs a transaction block
    rollback(pg_project)
    assert rows(pg_project, "people") == before


def test_emergency_rollback_archives_nothing_and_says_so(project: Path) -> None:
    seeded(project)
    write(
        project,
        "20240102000000",
        "add_nick",
        "ALTER TABLE people ADD COLUMN nick VARCHAR(20)",
        "ALTER TABLE people DROP COLUMN nick",
    )
    apply(project)
    execute(project, "UPDATE people SET nick = 'n'")

    back = rollback(project, emergency=True)

    assert back.migrations[0].archives == [] and archive_tables(project) == set()
    assert "--emergency: nothing the DOWN destroys is archived first" in " ".join(back.rollback_plan.notes)
