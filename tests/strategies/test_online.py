"""The online strategy on PostgreSQL and MariaDB, with a writer inserting and updating rows the whole time: apply
expands and backfills, status says what waits, complete contracts, rollback of an expanded migration undoes it;
no row lost, duplicated or stale (the table against the writer's own log)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from dbcheck import apply_ok, connect, execute, history, kind, make_project, query, tables, write_native
from migration_manager import service
from migration_manager.strategies.model import StrategyRefused

ROWS = 3000
ADD_PHONE = "ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'none'"


class Writer(threading.Thread):
    """Inserts new users and renames existing ones until stopped; `expected` is what the table must hold."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.expected = {i: f"u{i}" for i in range(ROWS)}
        self.failures: list[str] = []

    def run(self) -> None:
        conn, rng, next_id = connect(self.url), random.Random(7), ROWS
        try:
            while not self.stop.is_set():
                cur = conn.cursor()
                try:
                    if rng.random() < 0.5:
                        cur.execute(f"INSERT INTO users (id, name) VALUES ({next_id}, 'n{next_id}')")
                        self.expected[next_id], next_id = f"n{next_id}", next_id + 1
                    else:
                        row, name = rng.randrange(next_id), f"r{rng.randrange(10**6)}"
                        cur.execute(f"UPDATE users SET name = '{name}' WHERE id = {row}")
                        self.expected[row] = name
                except Exception as exc:  # noqa: BLE001 - a write the change refused: the test fails on it
                    self.failures.append(str(exc))
        finally:
            conn.close()

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.join()


def _users(url: str) -> None:
    execute(url, "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50))")
    execute(url, "INSERT INTO users (id, name) VALUES " + ", ".join(f"({i}, 'u{i}')" for i in range(ROWS)))


def _project(tmp_path: Path, url: str, up: str | list[str], down: str | None = None, header="online") -> Path:
    project = make_project(tmp_path / "proj", url, autoBackup=False)
    path = write_native(project, "1", "change", up, down)
    path.write_text(f"-- strategy: {header}\n" + path.read_text())
    return project


def _nullable(url: str, column: str) -> bool:
    sql = "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = %s" + (
        " AND table_schema = DATABASE()" if kind(url) == "mysql" else ""
    )
    return query(url, sql, (column,))[0][0] == "YES"


def _check_rows(url: str, writer: Writer) -> None:
    assert writer.failures == []
    rows = query(url, "SELECT id, name FROM users")
    assert len(rows) == len({r[0] for r in rows})  # nothing duplicated
    assert dict(rows) == writer.expected  # nothing lost, nothing stale


def test_add_not_null_column_expands_then_completes_while_the_application_writes(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, ADD_PHONE, "ALTER TABLE users DROP COLUMN phone")
    with Writer(server_url) as writer:
        report = apply_ok(project)
        assert history(server_url)["1"][0] == "expanded"
        assert _nullable(server_url, "phone")  # NOT NULL waits for complete
        status = service.status(service.TargetRequest(project_dir=project, env="dev"))
        assert [w.version for w in status.waiting_for_complete] == ["1"]
        assert "never set it to NULL" in status.waiting_for_complete[0].app_must[0]
        assert "db-migrate complete 1" in status.next_action
        done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
        assert done.outcome == "done", done.error
    run = report.migrations[0]
    assert run.strategy.statements[0].how == "expand/contract"
    assert history(server_url)["1"][0] == "applied"
    assert not _nullable(server_url, "phone")
    assert query(server_url, "SELECT count(*) FROM users WHERE phone IS NULL OR (id < 3000 AND phone <> 'none')") == [
        (0,)
    ]
    _check_rows(server_url, writer)
    # The temporary CHECK is gone with the contract phase.
    checks = "SELECT count(*) FROM information_schema.table_constraints WHERE constraint_name LIKE 'mm_%'"
    assert query(server_url, checks) == [(0,)]
    actions = [r[0] for r in query(server_url, "SELECT action FROM schema_migrations_log ORDER BY id")]
    assert actions == ["apply", "complete"]


def test_rollback_of_an_expanded_migration_drops_what_it_added_and_nothing_else(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, ADD_PHONE, "ALTER TABLE users DROP COLUMN phone")
    with Writer(server_url) as writer:
        apply_ok(project)
        report = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
        assert report.outcome == "done", report.error
    assert history(server_url) == {}
    columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
    assert sorted(r[0].lower() for r in query(server_url, columns + _same_database(server_url))) == ["id", "name"]
    _check_rows(server_url, writer)
    # A second apply starts again from nothing.
    apply_ok(project)
    assert history(server_url)["1"][0] == "expanded"


def test_dry_run_shows_each_statement_s_strategy_and_the_phases(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, [ADD_PHONE, "CREATE TABLE audit (id INT PRIMARY KEY)"])
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))
    plan = report.migrations[0].strategy
    assert [s.how for s in plan.statements] == ["expand/contract", "as written"]
    assert plan.chosen_by == "the file's header"
    phases = plan.phases()
    assert any(step.startswith("backfill") for step in phases["apply"])
    assert any("NOT NULL" in step for step in phases["complete"])
    assert report.migrations[0].statements[0].sql.startswith("ALTER TABLE")  # the expand steps, as they will run
    assert _nothing_recorded(server_url)


def test_native_online_forms(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, ["CREATE INDEX users_name ON users (name)"])
    report = apply_ok(project)
    statement = report.migrations[0].strategy.statements[0]
    assert statement.how == "native online"
    written = statement.expand[0].sql
    assert ("CONCURRENTLY" in written) if kind(server_url) == "postgres" else ("LOCK=NONE" in written)
    assert history(server_url)["1"][0] == "applied"


def test_postgres_foreign_key_and_not_null_are_validated_without_blocking(pg_url, tmp_path) -> None:
    _users(pg_url)
    execute(pg_url, "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT)")
    execute(pg_url, "INSERT INTO orders SELECT g, g % 3000 FROM generate_series(1, 500) g")
    up = [
        "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id)",
        "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL",
    ]
    report = apply_ok(_project(tmp_path, pg_url, up))
    steps = [s.sql for st in report.migrations[0].strategy.statements for s in st.expand]
    assert steps[0].endswith("NOT VALID") and "VALIDATE CONSTRAINT" in steps[1]
    assert any("CHECK" in s for s in steps[2:])
    assert query(pg_url, "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_user'") == [(True,)]
    assert query(
        pg_url, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'user_id'"
    ) == [(True,)]
    assert query(pg_url, "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'mm_%'") == [(0,)]


@pytest.mark.parametrize(
    ("up", "why"),
    [
        ("ALTER TABLE users ADD COLUMN phone VARCHAR(20) NOT NULL", "has no DEFAULT"),
        ("ALTER TABLE nokey ADD COLUMN phone VARCHAR(20) NOT NULL DEFAULT 'x'", "has no primary key"),
        ("ALTER TABLE users RENAME COLUMN id TO uid", "needs a plain column: (index|constraint) .* uses it"),
    ],
)
def test_refused_before_anything_runs(server_url, tmp_path, up, why) -> None:
    _users(server_url)
    execute(server_url, "CREATE TABLE nokey (a INT)")
    execute(server_url, "INSERT INTO nokey VALUES (1)")
    project = _project(tmp_path, server_url, up)
    with pytest.raises(StrategyRefused, match=why) as refused:
        service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert "strategy" in refused.value.next_step
    assert _nothing_recorded(server_url)
    assert query(server_url, "SELECT count(*) FROM users") == [(ROWS,)]


def test_blue_green_and_offline_plan_the_sql_as_written(server_url, tmp_path) -> None:
    _users(server_url)
    project = make_project(tmp_path / "proj", server_url, autoBackup=False)
    write_native(project, "1", "phone", ADD_PHONE, None)  # no header: the request's strategy applies
    from migration_manager.service.migrate import apply  # the apply the offline and blue-green deployments run

    for name in ("blue-green", "offline"):
        report = apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True, strategy=name))
        plan = report.migrations[0].strategy
        assert plan.statements == [] and plan.note.startswith(f"{name}: the SQL as written")
    with pytest.raises(StrategyRefused, match="Unknown strategy 'fast'"):
        service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True, strategy="fast"))


def test_mariadb_check_constraint_is_refused_under_online(mysql_url, tmp_path) -> None:
    _users(mysql_url)
    project = _project(tmp_path, mysql_url, "ALTER TABLE users ADD CONSTRAINT name_set CHECK (name <> '')")
    with pytest.raises(StrategyRefused, match="copying the table"):
        service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))


def test_sqlite_refuses_online_and_runs_auto_as_written(sqlite_url, tmp_path) -> None:
    execute(sqlite_url, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    project = _project(tmp_path, sqlite_url, ADD_PHONE)
    with pytest.raises(StrategyRefused, match="one writer at a time"):
        service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    path = project / "migrations" / "1_change.sql"
    path.write_text(path.read_text().replace("strategy: online", "strategy: auto"))
    report = apply_ok(project)
    assert report.migrations[0].strategy.note.startswith("auto: this database has no online DDL")


def test_the_request_s_strategy_applies_where_the_file_names_none(server_url, tmp_path) -> None:
    _users(server_url)
    project = make_project(tmp_path / "proj", server_url, autoBackup=False)
    write_native(project, "1", "phone", ADD_PHONE, None)
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True, strategy="online"))
    assert report.migrations[0].strategy.chosen_by == "--strategy"
    assert report.migrations[0].strategy.statements[0].how == "expand/contract"
    default = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))
    assert default.migrations[0].strategy.strategy == "offline"  # the setting's default: the SQL as written
    assert default.migrations[0].strategy.note == "offline: the SQL as written"


def _same_database(url: str) -> str:
    return " AND table_schema = DATABASE()" if kind(url) == "mysql" else ""


def _nothing_recorded(url: str) -> bool:
    return "schema_migrations" not in tables(url) or history(url) == {}


def test_analyze_shows_each_statement_s_strategy_or_why_it_is_refused(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, [ADD_PHONE, "CREATE INDEX users_name ON users (name)"])
    write_native(project, "2", "rename", "ALTER TABLE users RENAME COLUMN id TO uid", None)
    report = service.analyze(service.AnalyzeRequest(project_dir=project, env="dev", strategy="online"))
    first, second = report.migrations
    assert [s.how for s in first.strategy.statements] == ["expand/contract", "native online"]
    assert "needs a plain column" in second.strategy_refused


def test_rename_keeps_both_names_in_sync_until_complete_drops_the_old_one(server_url, tmp_path) -> None:
    _users(server_url)
    rename = "ALTER TABLE users RENAME COLUMN name TO full_name"
    project = _project(tmp_path, server_url, rename, "ALTER TABLE users RENAME COLUMN full_name TO name")
    with Writer(server_url) as writer:  # the old application: writes `name`
        apply_ok(project)
        assert history(server_url)["1"][0] == "expanded"
        # The new application writes the new name; the old name follows.
        execute(server_url, "UPDATE users SET full_name = 'new-app' WHERE id = 1")
        execute(server_url, "INSERT INTO users (id, full_name) VALUES (100000, 'inserted-new')")
        assert query(server_url, "SELECT name FROM users WHERE id IN (1, 100000) ORDER BY id") == [
            ("new-app",),
            ("inserted-new",),
        ]
        writer.stop.set()
        writer.join()
        assert query(server_url, f"SELECT count(*) FROM users WHERE {_differs(server_url, 'name', 'full_name')}") == [
            (0,)
        ]
        done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
        assert done.outcome == "done", done.error
    writer.expected[1], writer.expected[100000] = "new-app", "inserted-new"
    assert writer.failures == []
    assert dict(query(server_url, "SELECT id, full_name FROM users")) == writer.expected
    assert "name" not in _columns(server_url)
    assert not _triggers(server_url)


def test_type_change_swaps_a_synced_column_in(server_url, tmp_path) -> None:
    _users(server_url)
    execute(server_url, "ALTER TABLE users ADD COLUMN score INT")
    execute(server_url, "UPDATE users SET score = id")
    change = (
        "ALTER TABLE users ALTER COLUMN score TYPE bigint"
        if kind(server_url) == "postgres"
        else "ALTER TABLE users MODIFY score BIGINT"
    )
    project = _project(tmp_path, server_url, change)
    with Writer(server_url) as writer:
        report = apply_ok(project)
        assert report.migrations[0].strategy.statements[0].how == "expand/contract"
        execute(server_url, "UPDATE users SET score = 5000000 WHERE id = 2")  # the trigger carries it
        done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
        assert done.outcome == "done", done.error
    _check_rows(server_url, writer)
    assert query(server_url, "SELECT score FROM users WHERE id IN (1, 2, 2999) ORDER BY id") == [
        (1,),
        (5000000,),
        (2999,),
    ]
    types = "SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'score'"
    assert query(server_url, types + _same_database(server_url))[0][0].lower() == "bigint"
    assert sorted(_columns(server_url)) == ["id", "name", "score"]
    assert not _triggers(server_url)


def _differs(url: str, a: str, b: str) -> str:
    return f"{a} IS DISTINCT FROM {b}" if kind(url) == "postgres" else f"NOT ({a} <=> {b})"


def _columns(url: str) -> list[str]:
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'" + _same_database(url)
    return [r[0].lower() for r in query(url, sql)]


def _triggers(url: str) -> list:
    sql = "SELECT trigger_name FROM information_schema.triggers WHERE event_object_table = 'users'"
    return query(url, sql + (" AND trigger_schema = DATABASE()" if kind(url) == "mysql" else ""))


def test_rollback_of_an_expanded_rename_drops_the_new_column_and_its_triggers(server_url, tmp_path) -> None:
    _users(server_url)
    project = _project(tmp_path, server_url, "ALTER TABLE users RENAME COLUMN name TO full_name", "SELECT 1")
    apply_ok(project)
    assert _triggers(server_url)
    report = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
    assert report.outcome == "done", report.error
    assert sorted(_columns(server_url)) == ["id", "name"] and not _triggers(server_url)
    assert query(server_url, "SELECT count(*) FROM users WHERE name = 'u7' AND id = 7") == [(1,)]


def test_auto_takes_the_cheapest_form_that_keeps_writes_going(server_url, tmp_path) -> None:
    _users(server_url)
    per_row = "random()" if kind(server_url) == "postgres" else "(UUID())"
    up = [
        ADD_PHONE,  # a constant DEFAULT: metadata only on both servers
        f"ALTER TABLE users ADD COLUMN token VARCHAR(40) NOT NULL DEFAULT {per_row}",  # rewrites / copies the table
        "CREATE INDEX users_name ON users (name)",
        "CREATE TABLE audit (id INT PRIMARY KEY)",
    ]
    project = _project(tmp_path, server_url, up, header="auto")
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", dry_run=True))
    plan = report.migrations[0].strategy
    assert [s.how for s in plan.statements] == ["as written", "expand/contract", "native online", "as written"]
    assert plan.has_contract and "token" in plan.app_must[0]


def test_postgres_unique_constraint_takes_over_an_index_built_concurrently(pg_url, tmp_path) -> None:
    _users(pg_url)
    report = apply_ok(_project(tmp_path, pg_url, "ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name)"))
    steps = [s.sql for s in report.migrations[0].strategy.statements[0].expand]
    assert "CONCURRENTLY" in steps[0] and steps[1].endswith('UNIQUE USING INDEX "users_name_key"')
    assert query(pg_url, "SELECT contype FROM pg_constraint WHERE conname = 'users_name_key'") == [("u",)]


def test_postgres_unique_on_duplicates_stops_and_rollback_drops_the_invalid_index(pg_url, tmp_path) -> None:
    _users(pg_url)
    execute(pg_url, "UPDATE users SET name = 'same' WHERE id IN (1, 2)")
    project = _project(tmp_path, pg_url, "ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name)")
    report = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert report.outcome == "failed" and "users_name_key" in report.message
    assert query(pg_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_name_key'::regclass") == [(False,)]
    undone = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
    assert undone.outcome == "done", undone.error
    assert query(pg_url, "SELECT to_regclass('users_name_key')") == [(None,)] and _nothing_recorded(pg_url)


def test_postgres_complete_fills_a_null_written_before_the_check_guarded_the_column(pg_url, tmp_path) -> None:
    _users(pg_url)
    project = _project(tmp_path, pg_url, ADD_PHONE)
    apply_ok(project)
    # A NULL that slipped in between the backfill's last batch and the CHECK added NOT VALID after it.
    execute(pg_url, "ALTER TABLE users DROP CONSTRAINT mm_users_phone_not_null")
    execute(pg_url, "UPDATE users SET phone = NULL WHERE id = 3")
    execute(pg_url, "ALTER TABLE users ADD CONSTRAINT mm_users_phone_not_null CHECK (phone IS NOT NULL) NOT VALID")
    done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
    assert done.outcome == "done", done.error
    assert query(pg_url, "SELECT phone FROM users WHERE id = 3") == [("none",)]
    assert not _nullable(pg_url, "phone")
