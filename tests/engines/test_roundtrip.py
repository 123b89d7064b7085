"""up -> down -> up leaves the schema exactly as the first up did, as the database's own dump tool sees it."""

from __future__ import annotations

from dbcheck import Project, history, kind, query, schema_dump
from migration_manager import service

STEPS = [
    (
        "users",
        "CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL);\n"
        "CREATE UNIQUE INDEX users_email ON users (email);",
        "DROP TABLE users;",
    ),
    (
        "orders",
        "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer NOT NULL REFERENCES users (id),\n"
        "  total numeric(10, 2) DEFAULT 0);\nCREATE INDEX orders_user ON orders (user_id);",
        "DROP TABLE orders;",
    ),
    ("phone", "ALTER TABLE users ADD COLUMN phone varchar(40);", "ALTER TABLE users DROP COLUMN phone;"),
    ("view", "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;", "DROP VIEW big_orders;"),
    (
        "seed",
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');",
        "DELETE FROM users WHERE id IN (1, 2);",
    ),
]


def write_steps(project: Project) -> list[str]:
    versions = []
    for index, (name, up, down) in enumerate(STEPS, start=1):
        version = f"2024010{index}000000"
        project.native(version, name, up, down)
        versions.append(version)
    return versions


def test_up_down_up_gives_an_identical_schema(any_url: str, project: Project) -> None:
    versions = write_steps(project)
    target = {"project_dir": project.root, "url": any_url}
    empty = schema_dump(any_url)

    assert service.apply(service.ApplyRequest(**target)).outcome == "done"
    first = schema_dump(any_url)
    assert "users_email" in first and "big_orders" in first
    assert query(any_url, "SELECT count(*) FROM users") == [(2,)]

    # The DOWNs drop tables that now hold rows: a dangerous finding, so a human approves the rollback.
    assert service.rollback(service.RollbackRequest(**target, all=True)).outcome == "needs-approval"
    report = service.rollback(service.RollbackRequest(**target, all=True, approved=True))
    assert report.outcome == "done"
    assert [run.version for run in report.migrations] == versions[::-1]  # newest first
    assert schema_dump(any_url) == empty
    assert history(any_url) == {}

    assert service.apply(service.ApplyRequest(**target)).outcome == "done"
    assert schema_dump(any_url) == first
    assert sorted(history(any_url)) == versions


def test_rollback_steps_and_to_version(any_url: str, project: Project) -> None:
    versions = write_steps(project)
    target = {"project_dir": project.root, "url": any_url}
    service.apply(service.ApplyRequest(**target, to_version=versions[2]))
    assert sorted(history(any_url)) == versions[:3]
    after_three = schema_dump(any_url)
    service.apply(service.ApplyRequest(**target))

    report = service.rollback(service.RollbackRequest(**target, steps=2))
    assert [r.version for r in report.migrations] == [versions[4], versions[3]]
    assert report.version_after == versions[2]
    assert schema_dump(any_url) == after_three

    report = service.rollback(service.RollbackRequest(**target, to_version=versions[0]))
    assert [r.version for r in report.migrations] == [versions[2], versions[1]]
    assert sorted(history(any_url)) == versions[:1]


def test_dry_run_changes_nothing_and_shows_the_sql(any_url: str, project: Project) -> None:
    write_steps(project)
    target = {"project_dir": project.root, "url": any_url}
    before = schema_dump(any_url, include_history=True)
    report = service.apply(service.ApplyRequest(**target, dry_run=True))
    assert report.outcome == "dry-run" and len(report.migrations) == len(STEPS)
    assert report.migrations[0].statements[1].sql == "CREATE UNIQUE INDEX users_email ON users (email)"
    assert all(s.status == "planned" for run in report.migrations for s in run.statements)
    assert schema_dump(any_url, include_history=True) == before
    expected_mode = "per-statement" if kind(any_url) == "mysql" else "transaction"
    assert {run.mode for run in report.migrations} == {expected_mode}
