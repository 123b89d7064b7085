"""Every migration format read from disk, applied and rolled back on each real database."""

from __future__ import annotations

import pytest

from dbcheck import Project, history, kind, query, user_tables
from migration_manager import service

# One block that must reach the server as ONE statement (it has semicolons inside), per dialect.
BLOCK = {
    "postgres": (
        "CREATE FUNCTION one() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;",
        "DROP FUNCTION one();",
    ),
    "mysql": ("CREATE PROCEDURE one() BEGIN SELECT 1; SELECT 2; END;", "DROP PROCEDURE one;"),
    "sqlite": ("CREATE TRIGGER one AFTER INSERT ON g BEGIN UPDATE g SET id = id; SELECT 1; END;", "DROP TRIGGER one;"),
}
ROUTINE_CHECK = {
    "postgres": "SELECT count(*) FROM pg_proc WHERE proname = 'one'",
    "mysql": "SELECT count(*) FROM information_schema.routines WHERE routine_schema = DATABASE() AND routine_name = 'one'",
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'one'",
}


def write_native(p: Project, dialect: str) -> set[str]:
    p.native(
        "20240101000000",
        "users",
        "CREATE TABLE users (id integer PRIMARY KEY, email varchar(200));\n"
        "INSERT INTO users VALUES (1, 'a;b@example.com');",
        "DROP TABLE users;",
    )
    return {"users"}


def write_dbmate(p: Project, dialect: str) -> set[str]:
    p.write(
        "20240102000000_d.sql",
        "-- migrate:up\nCREATE TABLE d1 (id integer);\nCREATE TABLE d2 (id integer);\n\n"
        "-- migrate:down\nDROP TABLE d2;\nDROP TABLE d1;\n",
    )
    return {"d1", "d2"}


def write_goose(p: Project, dialect: str) -> set[str]:
    block, drop = BLOCK[dialect]
    p.write(
        "00003_g.sql",
        f"-- +goose Up\nCREATE TABLE g (id integer);\n-- +goose StatementBegin\n{block}\n"
        f"-- +goose StatementEnd\n\n-- +goose Down\n{drop}\nDROP TABLE g;\n",
    )
    return {"g"}


def write_golang_migrate(p: Project, dialect: str) -> set[str]:
    p.write("000004_gm.up.sql", "CREATE TABLE gm (id integer);\nINSERT INTO gm VALUES (4);\n")
    p.write("000004_gm.down.sql", "DROP TABLE gm;\n")
    return {"gm"}


def write_flyway(p: Project, dialect: str) -> set[str]:
    p.write("V5__fw.sql", "CREATE TABLE fw (id integer);\n")
    p.write("U5__fw.sql", "DROP TABLE fw;\n")
    return {"fw"}


def write_python(p: Project, dialect: str) -> set[str]:
    p.write(
        "20240106000000_data.py",
        """
def up(ctx):
    ctx.execute("CREATE TABLE py (id integer, label varchar(20))")
    for i in range(3):
        ctx.execute(f"INSERT INTO py VALUES ({ctx.param}, {ctx.param})", [i, "row %d" % i])


def down(ctx):
    ctx.execute("DROP TABLE py")
""",
    )
    return {"py"}


WRITERS = {
    "native": write_native,
    "dbmate": write_dbmate,
    "goose": write_goose,
    "golang-migrate": write_golang_migrate,
    "flyway": write_flyway,
    "python": write_python,
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_format_applies_and_rolls_back(fmt: str, any_url: str, project: Project) -> None:
    dialect = kind(any_url)
    created = WRITERS[fmt](project, dialect)
    target = {"project_dir": project.root, "url": any_url}

    report = service.apply(service.ApplyRequest(**target))
    assert report.outcome == "done", report.error
    assert user_tables(any_url) == created
    ((version, (status, done, total, checksum)),) = history(any_url).items()
    assert status == "applied" and done == total
    (migration,) = service.status(service.TargetRequest(**target)).applied
    assert (migration.format, migration.checksum, migration.state) == (fmt, checksum, "applied")
    if fmt == "goose":
        assert query(any_url, ROUTINE_CHECK[dialect]) == [(1,)]
    if fmt == "python":
        assert query(any_url, "SELECT id, label FROM py ORDER BY id") == [(0, "row 0"), (1, "row 1"), (2, "row 2")]
    if fmt == "native":
        assert query(any_url, "SELECT email FROM users") == [("a;b@example.com",)]

    # A DOWN that drops a table holding rows is a dangerous finding: a human approves it.
    report = service.rollback(service.RollbackRequest(**target, all=True, approved=True))
    assert report.outcome == "done", report.error
    assert user_tables(any_url) == set() and history(any_url) == {}
    if fmt == "goose":
        assert query(any_url, ROUTINE_CHECK[dialect]) == [(0,)]
    actions = query(any_url, "SELECT version, action, outcome FROM schema_migrations_log ORDER BY id")
    # The DOWN's DROP TABLE of a table holding rows archives them first (tests/archive has the details).
    archived = [(version, "archive", "ok")] if report.migrations[0].archives else []
    assert actions == [(version, "apply", "ok"), *archived, (version, "rollback", "ok")]
    assert bool(archived) == (fmt in ("native", "golang-migrate"))  # the formats whose tables hold rows


def test_mixed_formats_apply_in_version_order(any_url: str, project: Project) -> None:
    for writer in (write_native, write_dbmate, write_python):
        writer(project, kind(any_url))
    report = service.apply(service.ApplyRequest(project_dir=project.root, url=any_url))
    assert [run.version for run in report.migrations] == ["20240101000000", "20240102000000", "20240106000000"]
    assert report.version_after == "20240106000000"
    status = service.status(service.TargetRequest(project_dir=project.root, url=any_url))
    assert status.current_version == "20240106000000" and not status.pending


@pytest.mark.parametrize(
    "names",
    [("000007_mood.up.sql", "000007_mood.down.sql"), ("V7__mood.sql", "U7__mood.sql")],
    ids=["golang-migrate", "flyway"],
)
def test_a_file_of_its_own_says_no_transaction(pg_url: str, project: Project, names: tuple[str, str]) -> None:
    """`-- no-transaction` in a golang-migrate or Flyway file is honoured as in a native file's header: PostgreSQL
    refuses to use an enum value added in the same transaction ("unsafe use of new value")."""
    project.url = pg_url
    query(pg_url, "CREATE TYPE mood AS ENUM ('sad')")
    query(pg_url, "CREATE TABLE feelings (m mood)")
    up, down = names
    project.write(up, "-- no-transaction\nALTER TYPE mood ADD VALUE 'ok';\nINSERT INTO feelings VALUES ('ok');\n")
    project.write(down, "-- no-transaction\nDELETE FROM feelings WHERE m = 'ok';\n")
    report = service.apply(service.ApplyRequest(project_dir=project.root, url=pg_url))
    assert report.outcome == "done", report.message
    assert report.migrations[0].mode == "per-statement" and "no transaction" in report.migrations[0].mode_reason
    assert query(pg_url, "SELECT m::text FROM feelings") == [("ok",)]
    rolled = service.rollback(service.RollbackRequest(project_dir=project.root, url=pg_url, steps=1))
    assert rolled.outcome == "done", rolled.message
    assert query(pg_url, "SELECT count(*) FROM feelings") == [(0,)] and history(pg_url) == {}
