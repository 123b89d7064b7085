"""`db-migrate` as a user runs it: create, status, validate, apply, rollback, history, baseline; --json shapes."""

from __future__ import annotations

import json
import re

from dbcheck import Project, execute, history, query, user_tables


def as_json(done) -> dict:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


def test_create_writes_the_native_template(project: Project) -> None:

    done = project.run("create", "Add user phone", env={"MM_AUTHOR": "alice"})
    assert done.returncode == 0, done.stderr
    (path,) = project.migrations.iterdir()
    assert re.fullmatch(r"\d{14}_add_user_phone\.sql", path.name)
    text = path.read_text()
    assert "-- author: alice" in text
    up, down = text.split("-- UP\n", 1)[1].split("-- DOWN\n")
    assert up.strip().startswith("BEGIN;") and up.strip().endswith("COMMIT;")
    assert down.strip().startswith("BEGIN;") and down.strip().endswith("COMMIT;")
    assert path.name in done.stdout

    second = as_json(project.run("create", "second", "--json"))
    assert second["version"] > path.name[:14] and second["format"] == "sql"


def test_create_python_template(project: Project) -> None:

    report = as_json(project.run("create", "backfill", "--python", "--json"))
    text = (project.migrations / f"{report['version']}_backfill.py").read_text()
    assert "def up(ctx):" in text and "def down(ctx):" in text


def test_status_json_shape_through_a_whole_cycle(any_url: str, project: Project) -> None:
    project.url = any_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);")

    status = as_json(project.run("status", "--json"))
    assert {"current_version", "applied", "pending", "dirty"} <= status.keys()
    assert status["current_version"] is None and status["applied"] == [] and status["dirty"] is False
    assert [(m["version"], m["state"], m["can_roll_back"]) for m in status["pending"]] == [
        ("1", "pending", True),
        ("2", "pending", False),
    ]

    applied = as_json(project.run("apply", "--to", "1", "--json"))
    assert applied["outcome"] == "done" and applied["version_before"] is None and applied["version_after"] == "1"
    assert [m["status"] for m in applied["migrations"]] == ["applied"]

    status = as_json(project.run("status", "--json", env={"MM_AUTHOR": "bob"}))
    assert status["current_version"] == "1" and [m["version"] for m in status["pending"]] == ["2"]
    (entry,) = status["applied"]
    assert entry["state"] == "applied" and entry["checksum"].startswith("v1:") and entry["applied_at"]
    assert entry["duration_ms"] >= 0 and entry["author"] and status["rollback_available"] == 1

    done = project.run("apply", "--json", env={"MM_AUTHOR": "carol"})
    assert done.returncode == 0 and as_json(done)["version_after"] == "2"
    assert query(any_url, "SELECT author FROM schema_migrations WHERE version = '2'") == [("carol",)]
    nothing = as_json(project.run("apply", "--json"))
    assert nothing["outcome"] == "nothing-to-do" and nothing["migrations"] == []


def test_apply_dry_run_prints_the_sql_and_changes_nothing(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);\nINSERT INTO a VALUES (42);", "DROP TABLE a;")
    done = project.run("apply", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE a (id integer)" in done.stdout and "INSERT INTO a VALUES (42)" in done.stdout
    assert "nothing was changed" in done.stdout.lower()
    assert user_tables(sqlite_url) == set()


def test_rollback_shows_the_plan_and_runs_down_newest_first(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    for v in ("1", "2", "3"):
        project.native(v, f"t{v}", f"CREATE TABLE t{v} (id integer);", f"DROP TABLE t{v};")
    assert project.run("apply").returncode == 0
    dry = project.run("rollback", "--steps", "2", "--dry-run")
    assert dry.returncode == 0 and "DROP TABLE t3" in dry.stdout and "DROP TABLE t2" in dry.stdout
    assert user_tables(sqlite_url) == {"t1", "t2", "t3"}
    report = as_json(project.run("rollback", "--steps", "2", "--json"))
    assert [m["version"] for m in report["migrations"]] == ["3", "2"] and report["version_after"] == "1"
    assert user_tables(sqlite_url) == {"t1"}


def test_rollback_without_down_refuses_clearly(any_url: str, project: Project) -> None:
    project.url = any_url
    project.native("1", "a", "CREATE TABLE a (id integer);")
    assert project.run("apply").returncode == 0
    done = project.run("rollback")
    assert done.returncode == 10
    shown = done.stdout + done.stderr  # the plan (stdout) says which migration cannot roll back, and why
    assert "can roll back: no (1_a has no DOWN script" in shown and "Nothing was rolled back" in shown
    assert "Traceback" not in done.stderr + done.stdout
    assert user_tables(any_url) == {"a"} and list(history(any_url)) == ["1"]


def test_rollback_uses_the_recorded_down_when_the_file_is_gone(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    path = project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    assert project.run("apply").returncode == 0
    path.unlink()
    report = as_json(project.run("rollback", "--json"))
    assert report["outcome"] == "done" and report["migrations"][0]["script_source"] == "history"
    assert user_tables(sqlite_url) == set()


def test_history_lists_rows_and_the_event_log(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    project.run("apply")
    project.run("rollback")
    report = as_json(project.run("history", "--json"))
    assert [r["version"] for r in report["rows"]] == ["1"]
    assert [(e["version"], e["action"], e["outcome"]) for e in report["events"]] == [
        ("2", "rollback", "ok"),
        ("2", "apply", "ok"),
        ("1", "apply", "ok"),
    ]
    text = project.run("history")
    assert text.returncode == 0 and "rollback" in text.stdout and "1_a" in text.stdout


def test_baseline_records_without_running_then_apply_runs_the_rest(any_url: str, project: Project) -> None:
    project.url = any_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);", "DROP TABLE b;")
    project.native("3", "c", "CREATE TABLE c (id integer);", "DROP TABLE c;")
    report = as_json(project.run("baseline", "--to", "2", "--json"))
    assert report["outcome"] == "done" and report["version_after"] == "2"
    assert user_tables(any_url) == set()  # recorded, not run
    assert sorted(history(any_url)) == ["1", "2"]
    assert query(any_url, "SELECT DISTINCT strategy FROM schema_migrations") == [("baseline",)]
    applied = as_json(project.run("apply", "--json"))
    assert [m["version"] for m in applied["migrations"]] == ["3"] and user_tables(any_url) == {"c"}


def test_validate_passes_on_a_clean_project(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    done = project.run("validate", "--json")
    assert done.returncode == 0, done.stdout
    report = as_json(done)
    assert report["ok"] is True and report["verdict"] == "safe" and all(c["ok"] for c in report["checks"])


def test_validate_does_not_call_a_migration_with_a_danger_finding_safe(any_url: str, project: Project) -> None:
    # A UNIQUE over duplicate rows fails as written: validate says so and exits non-zero, as analyze does.
    project.url = any_url
    execute(any_url, "CREATE TABLE users (id integer PRIMARY KEY, email varchar(100))")
    execute(any_url, "INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x')")
    project.native(
        "1",
        "unique_email",
        "CREATE UNIQUE INDEX users_email ON users (email);",
        "DROP INDEX users_email;" if "mysql" not in any_url else "DROP INDEX users_email ON users;",
    )
    done = project.run("validate", "--json")
    report = as_json(done)
    assert done.returncode == 1 and report["ok"] is True and report["verdict"] == "needs-review", report
    assert [f["rule"] for f in report["findings"] if f["severity"] == "danger"] == ["unique-duplicates"]
    text = project.run("validate").stdout
    assert "Result: NEEDS REVIEW" in text and "SAFE TO APPLY" not in text, text


def test_validate_ticks_only_what_it_checked(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    project.native("1", "a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    project.native("2", "b", "CREATE TABLE b (id integer);")  # no DOWN
    project.native("3", "c", "CREATE TABLE c (id integer);", "-- irreversible: c is shared")
    (project.migrations / "4_d.sql").write_bytes(b"-- UP\nCREATE TABLE d (name text DEFAULT '\xff');\n")  # not UTF-8
    report = as_json(project.run("validate", "--json"))
    checks = {c["name"]: c for c in report["checks"]}
    downs = checks["every migration has a DOWN"]
    assert downs["ok"] and downs["warning"], downs
    assert "2_b: no DOWN (rollback impossible)" in downs["detail"]
    assert "3_c: declared irreversible (c is shared)" in downs["detail"] and "1_a" not in downs["detail"]
    parses = checks["SQL parses (sqlite)"]
    assert not parses["ok"] and "not checked in the 1 file(s) that could not be read" in parses["detail"], parses
    assert not checks["files parse"]["ok"] and report["ok"] is False

    text = project.run("validate").stdout
    assert re.search(r"⚠ every migration has a DOWN: 2_b: no DOWN", text), text
    assert re.search(r"✗ SQL parses \(sqlite\): not checked", text), text
    assert not re.search(r"✓ (every migration has a DOWN|SQL parses)", text), text


def test_a_broken_down_file_is_named_as_itself(sqlite_url: str, project: Project) -> None:
    # golang-migrate: the DOWN is its own file, and the line counted is that file's: name it, not the UP.
    project.url = sqlite_url
    (project.migrations / "1_t.up.sql").write_text("CREATE TABLE t (id integer);\n")
    (project.migrations / "1_t.down.sql").write_text("-- undo\nALTER TABLE t DROP INDEX t_idx;\n")
    parses = {c["name"]: c for c in as_json(project.run("validate", "--json"))["checks"]}["SQL parses (sqlite)"]
    assert not parses["ok"] and parses["detail"].startswith("1_t.down.sql: DOWN statement 1 (line 2)"), parses


def test_global_options_work_after_the_command(sqlite_url: str, project: Project) -> None:
    project.native("1", "a", "CREATE TABLE a (id integer);")
    done = project.run("apply", "--url", sqlite_url, "--json")
    assert as_json(done)["outcome"] == "done"
    assert user_tables(sqlite_url) == {"a"}


def test_no_configuration_uses_the_embedded_sqlite_database(project: Project) -> None:
    (project.root / "migration-manager.yaml").unlink()
    project.native("1", "a", "CREATE TABLE a (id integer);")
    done = project.run("apply", "--json")
    assert as_json(done)["database"].endswith(".migration-manager/local.db")
    assert user_tables(f"sqlite:///{project.root / '.migration-manager' / 'local.db'}") == {"a"}


def test_status_lists_the_newest_applied_and_every_one_with_a_problem(sqlite_url: str, project: Project) -> None:
    project.url = sqlite_url
    for n in range(1, 26):
        project.native(f"{n:02d}", f"m{n}", f"CREATE TABLE t{n} (id integer);", f"DROP TABLE t{n};")
    assert project.run("apply").returncode == 0
    (project.migrations / "02_m2.sql").write_text("-- UP\nCREATE TABLE t2 (id integer, edited integer);\n")

    listed = project.run("status")
    assert listed.returncode == 0, listed.stderr
    row = r"^\s*(?:✓|✎ edited)\s+(\d\d)\s+m\d+\s"  # mark, version, name
    rows = re.findall(row, listed.stdout, re.M)
    assert rows == ["02"] + [f"{n:02d}" for n in range(6, 26)]  # the edited one, then the newest 20
    assert "… 4 older applied migration(s) not listed (db-migrate status --all, or --json)" in listed.stdout

    everything = project.run("status", "--all")
    assert re.findall(row, everything.stdout, re.M) == [f"{n:02d}" for n in range(1, 26)]
    assert "not listed" not in everything.stdout
    assert len(as_json(project.run("status", "--json"))["applied"]) == 25
