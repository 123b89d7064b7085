"""`--json` on every command: stdout is exactly one JSON document, on success and on failure, and the exit
code is the one the README lists."""

from __future__ import annotations

import json

import pytest

from dbcheck import Project, user_tables

UNREACHABLE = "postgresql://postgres:Pw-json-secret@127.0.0.1:1/nowhere"


def as_json(done) -> dict:
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)  # one document: json.loads refuses trailing data


def test_every_command_answers_in_json(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    steps = [  # (arguments, exit code, a key or value the report must have)
        (["status"], 0, "pending"),
        (["validate"], 0, "checks"),
        (["analyze"], 0, "migrations"),
        (["apply", "--dry-run"], 0, "dry-run"),
        (["test"], 0, "steps"),
        (["apply", "--to", "1"], 0, "done"),
        (["backup", "create"], 0, "backups"),
        (["backup", "list"], 0, "backups"),
        (["backup", "prune"], 0, "backups"),
        (["apply"], 0, "done"),
        (["history"], 0, "events"),
        (["compare"], 0, "rows"),
        (["rollback", "--dry-run"], 0, "dry-run"),
        (["rollback"], 0, "done"),
        (["baseline", "--to", "2"], 0, "done"),
        (["resolve", "2", "--retry"], 5, "history_conflict"),  # not dirty
        (["restore", "--latest"], 8, "needs-approval"),  # a human must approve
        (["create", "add phone"], 0, "add_phone"),
        (["rollback", "--steps", "zero"], 2, "usage_error"),
    ]
    for args, code, expected in steps:
        done = project.run(*args, "--json")
        assert done.returncode == code, (args, done.stdout, done.stderr)
        report = as_json(done)
        assert expected in json.dumps(report), (args, report)
    assert user_tables(sqlite_url) == {"a"}  # rollback dropped b; baseline recorded 2 without running it


@pytest.mark.parametrize(
    "args, code",
    [
        (["status"], 3),
        (["history"], 3),
        (["apply"], 3),
        (["apply", "--dry-run"], 3),
        (["rollback"], 3),
        (["analyze"], 3),
        (["resolve", "1", "--retry"], 3),
        (["baseline", "--to", "1"], 3),
        (["backup", "create"], 3),
        (["restore", "--latest"], 12),
        (["test"], 3),
        (["validate"], 1),
    ],
)
def test_failures_answer_in_json_with_the_explanation(args: list[str], code: int, project: Project) -> None:
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    done = project.run(*args, "--json", url=UNREACHABLE)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Pw-json-secret" not in done.stdout + done.stderr
    report = as_json(done)
    if args == ["validate"]:  # validate reports the unreachable database as a failed check
        assert report["ok"] is False and any(
            c["name"] == "database reachable" and not c["ok"] for c in report["checks"]
        )
        return
    assert report["exit_code"] == code and report["message"] and report["state"] and report["next_step"]
