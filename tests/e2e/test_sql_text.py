"""What is written in a migration file is what runs: a statement the parser rejects is never dropped,
and transaction control the runner cannot honour is refused (issue 10)."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, events, history, tables, user_tables

BROKEN = "CREATE TABLE zz (id int);\nALTER TABLE zz ADD COLUMN (;"


@pytest.fixture(params=["sqlite", "postgres"])
def own_parser_url(request: pytest.FixtureRequest) -> str:
    """The databases whose own parser the tool asks (pglast is PostgreSQL's; SQLite parses with itself)."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url"}[request.param])


def nothing_recorded(url: str) -> bool:
    """No history row and no event (the history tables may not even exist: the file was refused first)."""
    return "schema_migrations" not in tables(url) or (history(url) == {} and events(url) == [])


def write(project: Project, up: str, down: str = "DROP TABLE zz;") -> None:
    project.write("20240101000000_broken.sql", f"-- UP\n{up}\n\n-- DOWN\n{down}\n")


def assert_refused_naming_the_line(project: Project, url: str, *args: str, line: int = 3) -> str:
    done = project.run(*args)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"20240101000000_broken.sql line {line}: " in out and "syntax error" in out, out
    assert "Traceback" not in out
    return out


def test_statement_the_parser_rejects_is_refused_before_anything_runs(own_parser_url: str, project: Project) -> None:
    project.url = own_parser_url
    write(project, BROKEN)

    validated = project.run("validate")
    assert validated.returncode == 1
    assert "20240101000000_broken.sql: UP statement 2 (line 3): " in validated.stdout
    assert "SAFE TO APPLY" not in validated.stdout
    dry = assert_refused_naming_the_line(project, own_parser_url, "apply", "--dry-run")
    assert (
        "ALTER TABLE zz ADD COLUMN ("
        in json.loads(project.run("apply", "--dry-run", "--json").stdout)["findings"][0]["statement"]
    ), dry
    out = assert_refused_naming_the_line(project, own_parser_url, "apply", "--yes")
    assert "nothing was run" in out
    assert user_tables(own_parser_url) == set()
    assert history(own_parser_url) == {} and events(own_parser_url) == []


def test_only_statement_broken_is_a_syntax_error_not_an_empty_up(pg_url: str, project: Project) -> None:
    project.url = pg_url
    write(project, "ALTER TABLE zz ADD COLUMN (;")
    out = assert_refused_naming_the_line(project, pg_url, "apply", "--yes", line=2)
    assert "no statements" not in out
    assert "no statements" not in project.run("validate").stdout


def test_broken_statement_in_a_down_refuses_the_rollback(pg_url: str, project: Project) -> None:
    project.url = pg_url
    write(project, "CREATE TABLE zz (id int);", "DROP TABLE zz;\nDROP TABLE (;")
    assert project.run("apply", "--yes").returncode == 0
    out = assert_refused_naming_the_line(project, pg_url, "rollback", "--yes", line=6)
    assert "nothing was run" in out
    assert user_tables(pg_url) == {"zz"} and list(history(pg_url)) == ["20240101000000"]


def test_mariadb_reports_the_broken_statement(mysql_url: str, project: Project) -> None:
    """MariaDB's parser is not in the tool (sqlglot approximates it): validate names the line, the server refuses."""
    project.url = mysql_url
    write(project, BROKEN)
    validated = project.run("validate")
    assert validated.returncode == 1 and "20240101000000_broken.sql: UP statement 2 (line 3)" in validated.stdout
    applied = project.run("apply", "--yes")
    assert applied.returncode != 0 and "statement 2" in applied.stdout + applied.stderr


# ---- transaction control written in a file ---------------------------------------------------------------------
ROLLED_BACK = {
    "postgres": "BEGIN;\nINSERT INTO t VALUES (1);\nROLLBACK;\nINSERT INTO t VALUES (2);",
    "mysql": "START TRANSACTION;\nINSERT INTO t VALUES (1);\nROLLBACK;\nINSERT INTO t VALUES (2);",
    "sqlite": "BEGIN;\nINSERT INTO t VALUES (1);\nROLLBACK;\nINSERT INTO t VALUES (2);",
}


def test_rollback_written_in_a_file_is_refused(any_url: str, project: Project) -> None:
    """It used to be dropped: the rows it should undo were committed ({1, 2} instead of the client's {2})."""
    from dbcheck import execute, kind, query

    project.url = any_url
    execute(any_url, "CREATE TABLE t (id int)")
    project.write("20240101000000_rb.sql", f"-- UP\n{ROLLED_BACK[kind(any_url)]}\n")
    for args in (["validate"], ["apply", "--dry-run"], ["apply", "--yes"]):
        done = project.run(*args)
        out = done.stdout + done.stderr
        assert done.returncode != 0, (args, out)
        assert "20240101000000_rb.sql line 4: `ROLLBACK` undoes the transaction" in out, (args, out)
        assert "Traceback" not in out
    assert query(any_url, "SELECT id FROM t") == []
    assert nothing_recorded(any_url)


@pytest.mark.parametrize("no_transaction", [False, True])
def test_savepoints_run_as_written_in_the_runners_transaction(
    own_parser_url: str, project: Project, no_transaction: bool
) -> None:
    """Inside the migration's one transaction, ROLLBACK TO SAVEPOINT does what the client would do;
    where statements commit one by one (-- no-transaction) it cannot, and the file is refused."""
    from dbcheck import execute, query

    project.url = own_parser_url
    execute(own_parser_url, "CREATE TABLE t (id int)")
    header = "-- no-transaction\n" if no_transaction else ""
    project.write(
        "20240101000000_sp.sql",
        f"{header}-- UP\nINSERT INTO t VALUES (1);\nSAVEPOINT s;\n"
        "INSERT INTO t VALUES (2);\nROLLBACK TO SAVEPOINT s;\nINSERT INTO t VALUES (3);\n",
    )
    done = project.run("apply", "--yes")
    if no_transaction:
        assert done.returncode != 0 and "line 4: `SAVEPOINT s` needs a transaction" in done.stdout + done.stderr
        assert query(own_parser_url, "SELECT id FROM t") == [] and nothing_recorded(own_parser_url)
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(query(own_parser_url, "SELECT id FROM t")) == [(1,), (3,)]


def test_savepoints_are_refused_on_mariadb(mysql_url: str, project: Project) -> None:
    from dbcheck import execute, query

    project.url = mysql_url
    execute(mysql_url, "CREATE TABLE t (id int)")
    project.write(
        "20240101000000_sp.sql",
        "-- UP\nINSERT INTO t VALUES (1);\nSAVEPOINT s;\nINSERT INTO t VALUES (2);\nROLLBACK TO SAVEPOINT s;\n",
    )
    done = project.run("apply", "--yes")
    assert done.returncode != 0 and "line 3: `SAVEPOINT s` needs a transaction" in done.stdout + done.stderr
    assert query(mysql_url, "SELECT id FROM t") == [] and nothing_recorded(mysql_url)


@pytest.mark.parametrize("begin", ["BEGIN IMMEDIATE", "BEGIN DEFERRED TRANSACTION", "begin immediate transaction"])
def test_sqlite_begin_variants_open_the_runners_transaction(sqlite_url: str, project: Project, begin: str) -> None:
    """They failed at run time (a transaction within the runner's); they ask for what the runner does anyway."""
    from dbcheck import execute, query

    project.url = sqlite_url
    execute(sqlite_url, "CREATE TABLE t (id int)")
    project.write("20240101000000_tx.sql", f"-- UP\n{begin};\nINSERT INTO t VALUES (1);\nCOMMIT;\n")
    done = project.run("apply", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert query(sqlite_url, "SELECT id FROM t") == [(1,)]
    assert history(sqlite_url)["20240101000000"][0] == "applied"


def test_sqlite_begin_exclusive_is_refused(sqlite_url: str, project: Project) -> None:
    from dbcheck import execute, query

    project.url = sqlite_url
    execute(sqlite_url, "CREATE TABLE t (id int)")
    project.write("20240101000000_tx.sql", "-- UP\nBEGIN EXCLUSIVE;\nINSERT INTO t VALUES (1);\nCOMMIT;\n")
    done = project.run("apply", "--yes")
    out = done.stdout + done.stderr
    assert (
        done.returncode != 0 and "20240101000000_tx.sql line 2: `BEGIN EXCLUSIVE` takes SQLite's EXCLUSIVE lock" in out
    )
    assert "Traceback" not in out
    assert query(sqlite_url, "SELECT id FROM t") == [] and nothing_recorded(sqlite_url)


@pytest.mark.parametrize(
    "statement, why",
    [
        ("SET autocommit = 0", "changes the session's autocommit"),
        ("SET @@session.autocommit = 0", "changes the session's autocommit"),
        ("LOCK TABLES t WRITE", "locks tables for the session"),
        ("UNLOCK TABLES", "remove the LOCK TABLES / UNLOCK TABLES lines"),
        ("XA START 'mm'", "is a distributed (XA) transaction"),
    ],
)
def test_mariadb_session_transaction_statements_are_refused(
    mysql_url: str, project: Project, statement: str, why: str
) -> None:
    """They ran as written and took the commits away from the runner (LOCK TABLES even made its history
    write fail after the INSERT had run)."""
    from dbcheck import execute, query

    project.url = mysql_url
    execute(mysql_url, "CREATE TABLE t (id int)")
    project.write(
        "20240101000000_tx.sql", f"-- UP\nINSERT INTO t VALUES (1);\n{statement};\nINSERT INTO t VALUES (2);\n"
    )
    for args in (["validate"], ["apply", "--yes"]):
        done = project.run(*args)
        out = " ".join((done.stdout + done.stderr).split())
        assert done.returncode != 0, (args, out)
        assert f"20240101000000_tx.sql line 3: `{statement}` " in out and why in out, (args, out)
        assert "Traceback" not in out
    assert query(mysql_url, "SELECT id FROM t") == [] and nothing_recorded(mysql_url)


def test_the_terminal_shows_a_refused_statement_as_written_not_as_emoji(pg_url: str, project: Project) -> None:
    """rich turns ':smile:' into an emoji unless told not to: the server's message quoting the SQL was shown with
    one in place of the text the file holds."""
    project.url = pg_url
    write(project, "INSERT INTO missing_notes VALUES (':smile:');", "SELECT 1;")
    done = project.run("apply", "--yes")
    out = done.stdout + done.stderr
    assert done.returncode == 1 and 'relation "missing_notes" does not exist' in out, out
    assert "VALUES (':smile:')" in out and "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in out, out
    assert nothing_recorded(pg_url)
