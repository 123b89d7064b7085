"""The schema simulation's errors are confirmed on a schema-only scratch copy before they block anything:
an error the server raises stays one (with the server's message), one it accepts is demoted to a warning,
and when the copy cannot be made the error stays, marked not confirmed with the reason. The environment's
database is never changed, and no copy is left behind."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest

from dbcheck import Project, _admin_execute, execute, kind, make_project, query, schema_dump
from migration_manager.clone import is_copy_of
from migration_manager.service import (
    AnalyzeRequest,
    ApplyRequest,
    RollbackRequest,
    TargetRequest,
    analyze,
    apply,
    rollback,
    validate,
)

SETUP = ["CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) UNIQUE)"]
# A construct each simulation misreads today (the server runs it), then a statement the server refuses.
MISREAD = {
    # The child inherits the parent's columns: the simulation does not model INHERITS.
    "postgres": ["CREATE TABLE staff (badge integer) INHERITS (users)", "CREATE INDEX staff_email ON staff (email)"],
    # A foreign key without a name gets an index named after its column.
    "mysql": [
        "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer, FOREIGN KEY (user_id) REFERENCES users (id))",
        "ALTER TABLE orders DROP FOREIGN KEY orders_ibfk_1",
        "ALTER TABLE orders DROP INDEX user_id",
    ],
    # The schema name goes on the index name in SQLite.
    "sqlite": ["CREATE INDEX main.users_email ON users (email)", "DROP INDEX main.users_email"],
}
REFUSED = "ALTER TABLE nope ADD COLUMN x integer"
SERVER_SAYS = {
    "postgres": 'relation "nope" does not exist',
    "mysql": "nope' doesn't exist",
    "sqlite": "no such table: nope",
}


def _project(root: Path, url: str, statements: list[str], **settings) -> Path:
    make_project(root, url, **settings)
    for sql in SETUP:
        _execute(url, sql)
    (root / "migrations" / "1_m.sql").write_text("-- UP\n" + "".join(f"{s};\n" for s in statements))
    return root


def _execute(url: str, sql: str) -> None:
    from migration_manager.dialects import open_engine

    engine = open_engine(url)
    try:
        engine.execute(sql)
    finally:
        engine.close()


def _copies(url: str) -> list[str]:
    """Scratch copies of this database on the server (SQLite: the temporary folders, see _own_temp)."""
    if kind(url) == "sqlite":
        return sorted(str(p) for p in Path(tempfile.gettempdir()).glob("mm-test-*"))
    database = url.rsplit("/", 1)[1]
    names = query(url, "SELECT datname FROM pg_database" if kind(url) == "postgres" else "SHOW DATABASES")
    return sorted(name for (name,) in names if is_copy_of(name, database))


@pytest.fixture(autouse=True)
def _own_temp(tmp_path, monkeypatch):
    """SQLite copies go to a temporary folder of this test's own: other runs' copies are not counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


def _errors(findings) -> list[tuple]:
    return [(f.rule, f.statement_index, f.server_check) for f in findings if f.severity == "error"]


def test_a_misread_construct_is_demoted_and_a_real_error_is_confirmed_with_the_servers_message(any_url, tmp_path):
    dialect = kind(any_url)
    project = _project(tmp_path / "p", any_url, MISREAD[dialect] + [REFUSED])
    before, copies = schema_dump(any_url), _copies(any_url)
    refused_at = len(MISREAD[dialect]) + 1

    report = validate(TargetRequest(project_dir=project, env="dev"))

    accepted = [f for f in report.findings if f.server_check == "accepted"]
    assert accepted and all(f.severity == "warning" and "server accepted" in f.message for f in accepted)
    assert _errors(report.findings) == [("schema-missing-table", refused_at, "confirmed")]
    confirmed = next(f for f in report.findings if f.severity == "error")
    assert SERVER_SAYS[dialect] in confirmed.server_message
    assert "_mmtest_" not in confirmed.server_message  # the copy's name is not what the user knows
    assert schema_dump(any_url) == before and _copies(any_url) == copies

    # analyze and apply --dry-run show the same verdicts; apply refuses with the server's message
    analyzed = analyze(AnalyzeRequest(project_dir=project, env="dev"))
    assert _errors(f for m in analyzed.migrations for f in m.findings) == _errors(report.findings)
    dry = apply(ApplyRequest(project_dir=project, env="dev", dry_run=True))
    assert _errors(dry.findings) == _errors(report.findings)
    result = apply(ApplyRequest(project_dir=project, env="dev", approved=True))
    assert result.outcome == "failed" and "Validation found 1 error(s)" in result.message
    assert "confirmed on a schema-only copy" in result.error.message
    assert SERVER_SAYS[dialect] in result.error.message
    assert schema_dump(any_url) == before and _copies(any_url) == copies


def test_rows_inserted_on_the_copy_are_judged_one_by_one(any_url, tmp_path):
    # MariaDB replays a run of INSERTs in one transaction on the copy (a commit each made a bulk load a quarter of an
    # hour): a refused row is undone alone (the duplicate key) and the next flagged statements are still judged.
    dialect = kind(any_url)
    rows = [
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com')",
        "INSERT INTO users (id, email) VALUES (1, 'again@example.com')",
        "INSERT INTO nope (id) VALUES (1)",
        "INSERT INTO users (id, email) VALUES (2, 'b@example.com')",
    ]
    project = _project(tmp_path / "p", any_url, MISREAD[dialect] + rows + [REFUSED])
    before, copies = schema_dump(any_url), _copies(any_url)

    report = validate(TargetRequest(project_dir=project, env="dev"))

    first = len(MISREAD[dialect]) + 1
    assert _errors(report.findings) == [
        ("schema-missing-table", first + 2, "confirmed"),
        ("schema-missing-table", first + 4, "confirmed"),
    ]
    assert all(SERVER_SAYS[dialect] in f.server_message for f in report.findings if f.severity == "error")
    assert any(f.server_check == "accepted" for f in report.findings)
    assert query(any_url, "SELECT count(*) FROM users") == [(0,)]
    assert schema_dump(any_url) == before and _copies(any_url) == copies


def test_the_cli_says_what_the_server_said(sqlite_url, tmp_path):
    project = _project(tmp_path / "p", sqlite_url, MISREAD["sqlite"] + [REFUSED])
    shown = Project(project, sqlite_url).run("validate")
    assert shown.returncode == 1, shown.stderr
    assert "server check: confirmed: no such table: nope" in shown.stdout
    assert "server accepted this statement on a schema-only copy" in " ".join(shown.stdout.split())


def test_a_plan_the_simulation_misreads_applies(any_url, tmp_path):
    project = _project(tmp_path / "p", any_url, MISREAD[kind(any_url)])
    report = validate(TargetRequest(project_dir=project, env="dev"))
    assert report.ok and not _errors(report.findings)

    result = apply(ApplyRequest(project_dir=project, env="dev", approved=True))
    assert result.outcome == "done", result.error
    assert any(f.server_check == "accepted" for f in result.findings)


def test_confirm_on_server_off_keeps_the_simulations_verdict(any_url, tmp_path):
    project = _project(tmp_path / "p", any_url, MISREAD[kind(any_url)], validation={"confirmOnServer": False})
    copies = _copies(any_url)
    report = validate(TargetRequest(project_dir=project, env="dev"))
    assert _errors(report.findings) and all(rule[2] is None for rule in _errors(report.findings))
    assert _copies(any_url) == copies


@pytest.fixture
def pg_user_without_createdb(pg_url):
    """The throwaway PostgreSQL database, owned and reached by a role that may not create databases."""
    role, database = f"mm_nocreatedb_{uuid.uuid4().hex[:8]}", pg_url.rsplit("/", 1)[1]
    _admin_execute("postgres", f"CREATE ROLE {role} LOGIN NOCREATEDB")
    _admin_execute("postgres", f'ALTER DATABASE "{database}" OWNER TO {role}')
    try:
        yield pg_url.replace("postgres@", f"{role}@", 1)
    finally:
        _admin_execute("postgres", f'ALTER DATABASE "{database}" OWNER TO postgres')
        execute(pg_url, f"DROP OWNED BY {role}")  # the tables it made, in the test database
        _admin_execute("postgres", f"DROP ROLE {role}")


@pytest.mark.parametrize("server", ["postgres", "mysql"])
def test_a_refused_copy_keeps_the_error_and_says_it_was_not_confirmed(server, request, tmp_path):
    # MariaDB: a user with rights on its own database only (mysql_user_url) may not create the copy.
    url = request.getfixturevalue("pg_user_without_createdb" if server == "postgres" else "mysql_user_url")
    project = _project(tmp_path / "p", url, MISREAD[server])
    before = schema_dump(request.getfixturevalue("pg_url" if server == "postgres" else "mysql_url"))

    report = validate(TargetRequest(project_dir=project, env="dev"))
    errors = [f for f in report.findings if f.severity == "error"]
    assert errors and all(f.server_check == "not-confirmed" for f in errors)
    assert all("copy could not be made" in f.server_message for f in errors)
    result = apply(ApplyRequest(project_dir=project, env="dev", approved=True))
    assert (
        result.outcome == "failed"
        and "not confirmed on the server: the schema-only scratch copy could not be made" in result.error.message
    )
    assert "secret" not in result.error.message.lower()
    assert schema_dump(request.getfixturevalue("pg_url" if server == "postgres" else "mysql_url")) == before


def test_sqlite_copy_refused_keeps_the_error(sqlite_url, tmp_path, monkeypatch):
    project = _project(tmp_path / "p", sqlite_url, MISREAD["sqlite"])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    report = validate(TargetRequest(project_dir=project, env="dev"))
    errors = [f for f in report.findings if f.severity == "error"]
    assert errors and all(
        f.server_check == "not-confirmed" and "copy could not be made" in f.server_message for f in errors
    )


def test_a_statement_naming_the_real_database_is_not_replayed(mysql_url, tmp_path):
    database = mysql_url.rsplit("/", 1)[1]
    project = _project(
        tmp_path / "p",
        mysql_url,
        [
            f"ALTER TABLE `{database}`.users ADD COLUMN leaked integer",
            f"ALTER TABLE {database}.nope ADD COLUMN x integer",
        ],
    )
    before = schema_dump(mysql_url)
    report = validate(TargetRequest(project_dir=project, env="dev"))
    assert schema_dump(mysql_url) == before  # the statement did not reach the environment's table
    flagged = [f for f in report.findings if f.severity == "error"]
    assert flagged and all(
        f.server_check == "not-confirmed" and "outside this database" in f.server_message for f in flagged
    )


def test_rollback_confirms_its_downs_errors_too(pg_url, tmp_path):
    project = _project(tmp_path / "p", pg_url, [])
    (project / "migrations" / "1_m.sql").write_text(
        "-- UP\nCREATE TABLE staff (badge integer);\n"
        "-- DOWN\nCREATE TABLE interns (school text) INHERITS (users);\nCREATE INDEX interns_email ON interns (email);\n"
        "DROP TABLE staff;\n"
    )
    assert apply(ApplyRequest(project_dir=project, env="dev", approved=True)).outcome == "done"

    result = rollback(RollbackRequest(project_dir=project, env="dev", approved=True))
    assert result.outcome == "done", result.error
    assert [(f.direction, f.statement_index, f.server_check) for f in result.findings if f.server_check] == [
        ("down", 2, "accepted")
    ]
    tables = {r[0] for r in query(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "staff" not in tables and "interns" in tables
