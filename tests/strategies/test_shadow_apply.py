"""`-- strategy: shadow` through apply, status, complete and rollback, with the writer process running; and what
the shadow strategy refuses before anything starts, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from shadow_cases import ALTER, AMOUNT_TYPE, amount_type, expected, rows_of, seed, writing

from dbcheck import apply_ok, execute, history, kind, make_project, query, tables, write_native
from migration_manager import service
from migration_manager.dialects import open_engine
from migration_manager.strategies import shadow
from migration_manager.strategies.model import StrategyRefused


def _project(tmp_path: Path, url: str, up: str) -> Path:
    project = make_project(tmp_path / "proj", url, autoBackup=False)
    path = write_native(project, "1", "change", up, "SELECT 1")
    path.write_text("-- strategy: shadow\n" + path.read_text())
    return project


def test_apply_swaps_status_lists_the_old_table_complete_drops_it(server_url, tmp_path):
    seeded = seed(server_url)
    project = _project(tmp_path, server_url, ALTER[kind(server_url)])
    with writing(server_url, tmp_path) as writer:
        report = apply_ok(project)
        assert report.migrations[0].strategy.statements[0].how == "shadow"
        assert history(server_url)["1"][0] == "expanded"
        status = service.status(service.TargetRequest(project_dir=project, env="dev"))
        assert [w.version for w in status.waiting_for_complete] == ["1"]
        assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][1]
        done = service.complete(service.CompleteRequest(project_dir=project, env="dev", approved=True))
        assert done.outcome == "done", done.error
        writer.wait_for_writes(50)
    assert history(server_url)["1"][0] == "applied"
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert not {"_mm_old_orders", "_mm_new_orders"} & tables(server_url)


def test_rollback_after_the_swap_swaps_back_with_every_write(server_url, tmp_path):
    seeded = seed(server_url)
    project = _project(tmp_path, server_url, ALTER[kind(server_url)])
    with writing(server_url, tmp_path) as writer:
        apply_ok(project)
        writer.wait_for_writes(50)  # writes to the new table, carried back by the reverse triggers
        report = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
        assert report.outcome == "done", report.error
        writer.wait_for_writes(50)
    assert history(server_url) == {}
    assert amount_type(server_url) == AMOUNT_TYPE[kind(server_url)][0]
    assert rows_of(server_url, "orders") == expected(seeded, writer)
    assert not {"_mm_old_orders", "_mm_new_orders"} & tables(server_url)


REFUSED = [
    ("ALTER TABLE nokey ADD COLUMN b int", "no primary key"),
    ("ALTER TABLE orders RENAME COLUMN note TO remark", "renamed column"),
    ("ALTER TABLE audited ADD COLUMN b int", "triggers of its own"),
]


@pytest.mark.parametrize(("statement", "why"), REFUSED)
def test_refused_before_anything_starts(server_url, statement, why):
    seed(server_url, rows=10)
    execute(server_url, "CREATE TABLE nokey (a int)")
    execute(server_url, "CREATE TABLE audited (id int PRIMARY KEY, a int)")
    execute(server_url, "CREATE TABLE audit_log (id int)")
    if kind(server_url) == "postgres":
        execute(
            server_url,
            "CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO audit_log VALUES (NEW.id); RETURN NULL; END$$",
        )
        execute(server_url, "CREATE TRIGGER audit AFTER INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit()")
    else:
        execute(
            server_url,
            "CREATE TRIGGER audit AFTER INSERT ON audited FOR EACH ROW INSERT INTO audit_log VALUES (NEW.id)",
        )
    before = tables(server_url)
    engine = open_engine(server_url)
    with pytest.raises(shadow.ShadowRefused, match=why) as refused:
        shadow.start(engine, statement)
    assert refused.value.state == "Nothing was started."
    assert tables(server_url) == before and shadow.leftovers(engine) == []
    engine.close()


def test_postgres_refuses_partitioned_tables_and_views(pg_url):
    execute(pg_url, "CREATE TABLE events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    execute(pg_url, "CREATE TABLE plain (id int PRIMARY KEY, a int)")
    execute(pg_url, "CREATE VIEW plain_a AS SELECT a FROM plain")
    engine = open_engine(pg_url)
    assert any("partitioned" in why for why in shadow.refusals(engine, "ALTER TABLE events ADD COLUMN b int"))
    assert any(
        "views read it (plain_a)" in why for why in shadow.refusals(engine, "ALTER TABLE plain ADD COLUMN b int")
    )
    engine.close()


def test_a_changed_primary_key_is_refused_and_the_copy_dropped(server_url):
    seed(server_url, rows=50)
    statement = (
        "ALTER TABLE items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id, order_id)"
        if kind(server_url) == "postgres"
        else "ALTER TABLE items DROP PRIMARY KEY, ADD PRIMARY KEY (id, order_id)"
    )
    execute(
        server_url,
        "ALTER TABLE items "
        + ("ALTER COLUMN order_id SET NOT NULL" if kind(server_url) == "postgres" else "MODIFY order_id int NOT NULL"),
    )
    engine = open_engine(server_url)
    with pytest.raises(shadow.ShadowRefused, match="primary key changes"):
        shadow.start(engine, statement)
    assert shadow.leftovers(engine) == [] and shadow.phase(engine, "items") == "none"
    assert query(server_url, "SELECT count(*) FROM items") == [(50,)]
    engine.close()


def test_the_strategy_refuses_through_apply_with_the_alternative(server_url, tmp_path):
    seed(server_url, rows=10)
    execute(server_url, "CREATE TABLE nokey (a int)")
    retype = "ALTER COLUMN a TYPE bigint" if kind(server_url) == "postgres" else "MODIFY a bigint"
    project = _project(tmp_path, server_url, f"ALTER TABLE nokey {retype}")  # a rewrite: shadow's to run
    with pytest.raises(StrategyRefused, match="no primary key") as refused:
        service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
    assert "offline" in refused.value.next_step
    assert "schema_migrations" not in tables(server_url) or history(server_url) == {}


class Stop(Exception):
    pass


def test_status_lists_an_abandoned_copy_with_the_command_that_clears_it(server_url, tmp_path):
    seed(server_url, rows=50)
    project = _project(tmp_path, server_url, "SELECT 1")
    engine = open_engine(server_url)

    def stop(what, _progress):
        if what == "copy":
            raise Stop  # the run dies once its triggers and copy exist

    with pytest.raises(Stop):
        shadow.start(engine, ALTER[kind(server_url)], progress=stop)
    problems = service.status(service.TargetRequest(project_dir=project, env="dev")).problems
    assert any("shadow change of orders is copying" in p and "`db-migrate apply` resumes" in p for p in problems)
    assert shadow.rollback(engine, "orders") == "copying"
    assert not any(
        "shadow" in p for p in service.status(service.TargetRequest(project_dir=project, env="dev")).problems
    )
    engine.close()
