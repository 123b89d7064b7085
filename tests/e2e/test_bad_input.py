"""Bad input and a server that goes away: one clear paragraph (what happened, database state, next step),
the right non-zero exit code, no traceback, valid JSON with --json, and never the password.

PostgreSQL here trusts every local connection (any password is accepted), so its failures are a wrong
port, host or database name; MariaDB gets a real user with a real password, and a wrong one.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from dbcheck import MYSQL_USER_PASSWORD as SECRET
from dbcheck import Project, _admin_execute, history, query, user_tables, wait_for


def explained(done: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The CLI's text answer: exit code, one paragraph with state and next step, no traceback, no password."""
    text = done.stdout + done.stderr
    assert done.returncode == code, text
    assert SECRET not in text and "Traceback" not in text
    assert "Database state:" in text and "Next step:" in text, text
    flat = " ".join(text.split())
    for needle in needles:
        assert needle in flat, flat
    return flat


def explained_json(done: subprocess.CompletedProcess, code: int, kind: str) -> dict:
    assert done.returncode == code, done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr and "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    error = report.get("error") if isinstance(report.get("error"), dict) else report
    assert error["error"] == kind and error["exit_code"] == code
    assert error["message"] and error["state"] and error["next_step"]
    return error


BAD_POSTGRES = {
    "wrong port": (
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/postgres",
        "Cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres",
    ),
    "unknown host": (
        f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/db",
        "failed to resolve host 'no-such-host.invalid'",
    ),
    "unknown database": (
        f"postgresql://postgres:{SECRET}@127.0.0.1:5432/mm_no_such_db",
        'database "mm_no_such_db" does not exist',
    ),
}


@pytest.mark.parametrize("case", list(BAD_POSTGRES))
@pytest.mark.parametrize("command", ["status", "apply", "rollback", "history"])
def test_postgres_connection_failures_are_explained(case: str, command: str, project: Project) -> None:
    url, reason = BAD_POSTGRES[case]
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    explained(project.run(command, url=url), 3, reason, "Nothing was changed: no connection was made")
    error = explained_json(project.run(command, "--json", url=url), 3, "connection_failed")
    assert "***" in error["message"] or "@" not in error["message"]


def test_mariadb_wrong_password_and_unknown_database(mysql_user_url: str, project: Project) -> None:
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    wrong = mysql_user_url.replace(SECRET, "not-" + SECRET[::-1])
    user = urlsplit(mysql_user_url).username
    explained(project.run("apply", url=wrong), 3, f"Access denied for user '{user}'", "no connection was made")
    assert "not-" not in project.run("apply", url=wrong).stderr  # the wrong password is not echoed either
    explained_json(project.run("status", "--json", url=wrong), 3, "connection_failed")

    missing = mysql_user_url.rsplit("/", 1)[0] + "/mm_no_such_db"
    explained(project.run("status", url=missing), 3, "mm_no_such_db")
    assert user_tables(mysql_user_url.replace(f"{user}:{SECRET}", "root")) == set()

    # The right password works, and nothing it prints carries it.
    for args in (["apply"], ["status"], ["apply", "--json"], ["status", "--json"], ["history", "--json"]):
        done = project.run(*args, url=mysql_user_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert "mysql://" + user + ":***@" in project.run("status", url=mysql_user_url).stdout


URL_SYNTAX_PASSWORD = "Zq9@Lm4/Tr:7#Vx?%1 Yk"  # every character a URL gives a meaning to, and a space


def test_a_password_with_url_syntax_from_an_environment_variable(mysql_url: str, project: Project) -> None:
    """${VAR} in user:password@ is encoded: the password connects as it is; a wrong one shows no part of it."""
    user, database = f"mm_pw_{uuid.uuid4().hex[:8]}", mysql_url.rsplit("/", 1)[1]
    for host in ("%", "localhost"):
        _admin_execute("mysql", f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{URL_SYNTAX_PASSWORD}'")
        _admin_execute("mysql", f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
    try:
        project.configure(
            {
                "autoBackup": False,
                "environments": {"dev": {"url": f"mysql://{user}:${{MM_TEST_DB_PASSWORD}}@127.0.0.1:3306/{database}"}},
            }
        )
        project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
        right = {"MM_TEST_DB_PASSWORD": URL_SYNTAX_PASSWORD}
        for args in (["apply"], ["status", "--json"], ["backup", "create"]):
            done = project.run(*args, env=right)
            assert done.returncode == 0, done.stdout + done.stderr
        assert query(mysql_url, "SELECT version, status FROM schema_migrations") == [("1", "applied")]

        wrong = {"MM_TEST_DB_PASSWORD": "Qw2@" + URL_SYNTAX_PASSWORD[::-1]}
        text = explained(
            project.run("status", env=wrong),
            3,
            f"Access denied for user '{user}'",
            f"Cannot connect to mysql://{user}:***@127.0.0.1:3306/{database}",
        )
        for password in wrong.values():
            assert all(part not in text for part in re.split(r"[@/:#? ]", password) if len(part) > 1), text
    finally:
        for host in ("%", "localhost"):
            _admin_execute("mysql", f"DROP USER IF EXISTS '{user}'@'{host}'")


@pytest.mark.parametrize(
    "url, needle",
    [
        (
            f"postgresql://postgres:{SECRET}@127.0.0.1:port/db",
            "The port in postgresql://postgres:***@127.0.0.1:port/db is not a number",
        ),
        (f"mysql//root:{SECRET}@127.0.0.1/db", "'mysql//root:***@127.0.0.1/db' is not a database URL"),
        (f"oracle://scott:{SECRET}@db/orcl", "Unsupported database scheme 'oracle'"),
    ],
)
def test_malformed_urls_are_config_errors_without_the_password(url: str, needle: str, project: Project) -> None:
    explained(project.run("status", url=url), 2, needle, "Nothing was run: no database was contacted")
    explained_json(project.run("apply", "--json", url=url), 2, "config_error")


def test_unknown_environment_names_the_known_ones(project: Project) -> None:
    project.configure(
        {
            "autoBackup": False,
            "environments": {
                "dev": {"url": f"postgresql://app:{SECRET}@127.0.0.1:1/dev"},
                "production": {"url": f"postgresql://app:{SECRET}@127.0.0.1:1/prod", "requireApproval": True},
            },
        }
    )
    explained(project.run("status", "--env", "qa"), 2, "Unknown environment 'qa'", "dev, production")
    explained_json(project.run("apply", "--env", "qa", "--json"), 2, "config_error")


def test_usage_errors_answer_in_json_with_json(project: Project) -> None:
    done = project.run("rollback", "--steps", "many", "--json")
    error = explained_json(done, 2, "usage_error")
    assert "invalid int value: 'many'" in error["message"]
    text = project.run("frobnicate")
    assert text.returncode == 2 and "invalid choice: 'frobnicate'" in text.stderr and not text.stdout


def test_an_internal_error_is_json_without_password_or_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys, tmp_path
) -> None:
    from migration_manager import service
    from migration_manager.surfaces.cli import app as cli

    def crash(request):
        raise RuntimeError(f"driver exploded on postgresql://app:{SECRET}@db/app")

    monkeypatch.setattr(service, "status", crash)
    assert cli.main(["status", "--json", "--project", str(tmp_path)]) == 70
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["error"] == "internal_error" and error["exit_code"] == 70
    assert "RuntimeError" in error["message"] and "--debug" in error["next_step"]
    assert SECRET not in out + err and "Traceback" not in out + err


# ---- the server goes away in the middle of a run --------------------------------------------
def test_postgres_session_terminated_mid_migration(pg_url: str, project: Project) -> None:
    project.url = pg_url.replace("postgres@", f"postgres:{SECRET}@")  # trust auth: any password is accepted
    query(pg_url, "CREATE TABLE knob (secs integer)")
    query(pg_url, "INSERT INTO knob VALUES (600)")
    project.native(
        "1",
        "slow",
        "CREATE TABLE k1 (id integer);\nSELECT pg_sleep(secs) FROM knob;\nCREATE TABLE k3 (id integer);",
        "DROP TABLE k3;\nDROP TABLE k1;",
    )
    for json_output in (False, True):
        run = project.popen("apply", *(["--json"] if json_output else []))
        pid = wait_for(
            lambda: query(
                pg_url,
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'SELECT pg_sleep%%' AND state = 'active'",
            ),
            "the sleeping statement",
        )[0][0]
        query(pg_url, f"SELECT pg_terminate_backend({pid})")
        out, err = run.communicate(timeout=60)
        done = subprocess.CompletedProcess(run.args, run.returncode, out, err)
        if json_output:
            error = explained_json(done, 3, "connection_lost")
            assert "at statement 2 of 3" in error["message"]
        else:
            explained(
                done,
                3,
                "was lost while running 1_slow at statement 2 of 3",
                "ran in one transaction that never committed, so the server rolled it back",
                "Check that the server is up",
            )
            # The statements are sent together (pipeline mode), where libpq drops the server's last words
            # ("terminating connection due to administrator command") and says the connection closed.
            assert "server closed the connection unexpectedly" in done.stdout
            assert "error ignored" not in done.stderr  # psycopg's clean-up warning stays quiet
        assert user_tables(pg_url) == {"knob"} and history(pg_url) == {}
    query(pg_url, "UPDATE knob SET secs = 0")
    assert project.run("apply").returncode == 0 and user_tables(pg_url) == {"knob", "k1", "k3"}


def test_mariadb_connection_killed_mid_migration(mysql_user_url: str, project: Project) -> None:
    project.url = mysql_user_url
    project.configure({"autoBackup": False, "rollback": {"autoOnFailure": False}})
    root_url = mysql_user_url.replace(f"{urlsplit(mysql_user_url).username}:{SECRET}", "root")
    query(root_url, "CREATE TABLE knob (secs integer)")
    query(root_url, "INSERT INTO knob VALUES (600)")
    project.native(
        "1",
        "slow",
        "CREATE TABLE k1 (id integer);\nSELECT SLEEP(secs) FROM knob;\nCREATE TABLE k3 (id integer);",
        "DROP TABLE k3;\nDROP TABLE k1;",
    )
    run = project.popen("apply")
    session = wait_for(
        lambda: query(
            root_url,
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE 'SELECT SLEEP%%'",
        ),
        "the sleeping statement",
    )[0][0]
    query(root_url, f"KILL CONNECTION {session}")
    out, err = run.communicate(timeout=60)
    explained(
        subprocess.CompletedProcess(run.args, run.returncode, out, err),
        3,
        "was lost while running 1_slow at statement 2 of 3",
        "DIRTY: statements 1..1 of 1_slow are committed; statement 2 was running when the session ended",
        "db-migrate resolve 1 --retry",
    )
    assert user_tables(root_url) == {"knob", "k1"}
    assert history(root_url)["1"][:3] == ("running", 1, 3)  # the record could not be updated

    status = json.loads(project.run("status", "--json").stdout)
    assert status["dirty"] is True and status["in_progress"] is False
    assert "the run stopped without recording its end" in status["dirty_detail"]
    explained(project.run("apply"), 6, "1_slow is dirty", "resolve 1 --retry")
    query(root_url, "UPDATE knob SET secs = 0")
    assert project.run("resolve", "1", "--retry").returncode == 0
    assert user_tables(root_url) == {"knob", "k1", "k3"} and history(root_url)["1"][:3] == ("applied", 3, 3)
