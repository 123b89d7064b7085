"""The round-trip invariant over every migration the archive and rollback tests write: apply -> (a user
writes a row into each table) -> rollback -> apply again leaves the data of one apply plus the user's rows,
once. Where the tool cannot bring a user's rows back honestly (a table without a key that the migration fills
itself), the report must say so and the table must hold exactly one apply's rows.

The corpus is read from the test sources: each test function's `write(...)` calls, in source order, with the
helpers of its module followed (seeded(), prepared(), ...); a call whose arguments need the test's local
variables ends that chain. A migration whose DOWN does not undo its UP (some tests write such DOWNs on purpose)
or whose UP/DOWN fails on purpose is not a round trip: it ends the chain, and is reported as skipped."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from archive_helpers import make_project, write

from dbcheck import settings_url
from migration_manager import service
from migration_manager.analysis.schema import read_schema
from migration_manager.dialects import open_engine

TESTS = Path(__file__).resolve().parent.parent
SOURCES = [*sorted((TESTS / "archive").glob("test_*.py")), *sorted((TESTS / "rollback").glob("test_*.py"))]
WRITERS = {"write", "write_native"}
FIXTURE_DIALECTS = {"pg_project": {"postgres"}, "mysql_project": {"mysql"}, "sqlite_project": {"sqlite"}}
ALL = {"sqlite", "postgres", "mysql"}


@dataclass(frozen=True)
class Chain:
    source: str
    dialects: frozenset[str]
    migrations: tuple[tuple[str, str, str | tuple, str | tuple | None], ...]  # version, name, up, down


def _module(path: Path):
    sys.path.insert(0, str(path.parent)) if str(path.parent) not in sys.path else None
    return importlib.import_module(path.stem)


def _writes(function: ast.FunctionDef, functions: dict, namespace: dict, depth: int = 0) -> list | None:
    """The migrations `function` writes, in order (helpers followed); None after a call it cannot evaluate."""
    found: list = []
    calls = sorted(
        (n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for call in calls:
        if call.func.id in WRITERS:
            try:
                version, name, up, down = (
                    eval(compile(ast.Expression(a), "<corpus>", "eval"), dict(namespace)) for a in call.args[1:5]
                )
            except Exception:  # noqa: BLE001 - needs the test's local variables: the chain ends here
                return found
            freeze = lambda s: tuple(s) if isinstance(s, list) else s  # noqa: E731 -- a one-line helper used just below
            found.append((version, name, freeze(up), freeze(down)))
        elif call.func.id in functions and depth < 3:
            found += _writes(functions[call.func.id], functions, namespace, depth + 1) or []
    return found


def corpus() -> list[Chain]:
    chains: dict[tuple, Chain] = {}
    for path in SOURCES:
        namespace = vars(_module(path))
        tree = ast.parse(path.read_text())
        functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        for name, function in functions.items():
            if not name.startswith("test_"):
                continue
            params = {a.arg for a in function.args.args}
            dialects = set.union(set(), *(FIXTURE_DIALECTS.get(p, set()) for p in params)) or (
                ALL if params & {"project", "any_url"} else set()
            )
            migrations = _writes(function, functions, namespace) or []
            ordered = [m for i, m in enumerate(migrations) if all(m[0] > p[0] for p in migrations[:i])]
            if ordered and dialects:
                key = (tuple(ordered), frozenset(dialects))
                chains.setdefault(
                    key, Chain(f"{path.parent.name}/{path.name}::{name}", frozenset(dialects), tuple(ordered))
                )
    return list(chains.values())


CORPUS = corpus()
CASES = [
    pytest.param(chain, dialect, id=f"{chain.source.split('::')[1]}-{dialect}")
    for chain in CORPUS
    for dialect in sorted(chain.dialects)
]


def test_the_corpus_holds_the_migrations_of_the_archive_and_rollback_tests() -> None:
    sources = {c.source.split("::")[0] for c in CORPUS}
    assert {
        "archive/test_archive_drop_table.py",
        "archive/test_archive_drop_column.py",
        "archive/test_archive_round_trip.py",
        "rollback/test_rollback_plan.py",
    } <= sources
    assert sum(len(c.migrations) for c in CORPUS) >= 40


# ---- the database as data --------------------------------------------------------------------
def _user_tables(engine) -> dict:
    snapshot = read_schema(engine, exclude=("schema_migrations", "schema_migrations_log"))
    return {key: t for key, t in snapshot.tables.items() if not t.view and not key.startswith("_mm_")}


def data(project: Path) -> dict[str, list]:
    """Every user table's rows, as a sorted list (a multiset: duplicates show)."""
    engine = open_engine(settings_url(project))
    try:
        return {
            key: sorted((tuple(r) for r in engine.query(f"SELECT * FROM {t.name}")), key=repr)
            for key, t in _user_tables(engine).items()
        }
    finally:
        engine.close()


def shape(project: Path) -> dict[str, list[str]]:
    engine = open_engine(settings_url(project))
    try:
        return {key: sorted(t.columns) for key, t in _user_tables(engine).items()}
    finally:
        engine.close()


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def user_writes(project: Path, serial: int) -> None:
    """A user's row in each table: a copy of one of its rows (or NULLs) with new integer and text values, so
    no key of the table collides; a row the table's constraints refuse is simply not written."""
    engine = open_engine(settings_url(project))
    try:
        for table in _user_tables(engine).values():
            existing = engine.query(f"SELECT * FROM {table.name}")
            columns = list(table.columns.values())
            model = list(existing[0]) if existing else [None] * len(columns)
            values = [
                serial if c.type.family == "integer" else "u" if c.type.family == "string" else model[i]
                for i, c in enumerate(columns)
            ]
            names = ", ".join(c.name for c in columns)
            try:
                engine.execute(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(map(_literal, values))})")
            except Exception:  # noqa: BLE001 - a CHECK, a foreign key, a NOT NULL without a model row
                engine.execute("SELECT 1")  # the failed statement rolled back alone (autocommit)
    finally:
        engine.close()


# ---- the property ----------------------------------------------------------------------------
@pytest.mark.parametrize(("chain", "dialect"), CASES)
def test_apply_rollback_apply_keeps_one_applys_data_and_the_users_rows_once(
    chain: Chain, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgres": "pg_url", "mysql": "mysql_url"}[dialect])
    project = make_project(tmp_path / "proj", url)
    checked, skipped = 0, []
    for number, (version, name, up, down) in enumerate(chain.migrations, start=900_001):
        if down is None:
            skipped.append(f"{version}: no DOWN")
            break
        write(
            project,
            version,
            name,
            list(up) if isinstance(up, tuple) else up,
            list(down) if isinstance(down, tuple) else down,
        )
        before = shape(project)
        first = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
        if first.outcome != "done":
            skipped.append(f"{version}: its UP fails on purpose")
            break
        user_writes(project, number)
        expected = data(project)
        back = service.rollback(service.RollbackRequest(project_dir=project, env="dev", approved=True))
        if back.outcome != "done" or shape(project) != before:
            skipped.append(f"{version}: its DOWN does not undo its UP")
            break
        again = service.apply(service.ApplyRequest(project_dir=project, env="dev", approved=True))
        assert again.outcome == "done", f"{chain.source} {version}: the re-apply failed: {again.message}"
        after = data(project)
        kept = {
            s.table.lower(): s
            for s in again.migrations[0].archives
            if s.action == "not-restored" or (s.action == "restore" and "not put back" in s.note)
        }
        lost = {s.table.lower() for s in back.migrations[0].archives if s.action == "not-archived"}
        rewritten = {
            t.lower()
            for t in re.findall(r"UPDATE\s+(\w+)", " ".join(up if isinstance(up, tuple) else [up]), re.IGNORECASE)
        }
        for table, rows in expected.items():
            if table in lost:
                continue  # the rollback said it could not archive these values (no key)
            if table in rewritten:  # the UP's own UPDATE recomputes the user's values: the rows, once each
                mine = lambda found, number=number: [r for r in found if number in r]  # noqa: E731 -- read once, two lines below
                assert len(mine(after[table])) == len(mine(rows)), (chain.source, version)
                assert [r for r in after[table] if number not in r] == [r for r in rows if number not in r]
                continue
            if table in kept:  # said so, and nothing doubled: every row of the table is an expected one
                assert kept[table].archive_table and kept[table].note
                assert all(after[table].count(r) <= rows.count(r) for r in after[table]), (chain.source, version)
                continue
            assert after.get(table) == rows, f"{chain.source} {version} {table}"
        checked += 1
    if not checked:
        pytest.skip(f"{chain.source}: no round trip to check ({'; '.join(skipped)})")
