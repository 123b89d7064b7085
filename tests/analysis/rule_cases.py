"""The labeled corpus's machinery: one seeded database per test module (analysis only reads it),
and the findings of a migration as comparable tuples."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

try:
    from dbcheck import throwaway_database
except ImportError:  # imported from tests/bench with the repository root on sys.path
    from tests.dbcheck import throwaway_database

from migration_manager.analysis.findings import ScriptToCheck, find
from migration_manager.analysis.model import Finding
from migration_manager.dialects import open_engine


@contextmanager
def seeded_database(kind: str, seed: list[str], tmp_dir=None) -> Iterator[str]:
    """A throwaway database of `kind` holding `seed`, dropped afterwards."""
    if kind == "sqlite":
        yield _seeded(f"sqlite:///{tmp_dir}/mm_rules_{uuid.uuid4().hex[:10]}.db", seed)
        return
    with throwaway_database(kind, prefix="mm_rules") as url:
        yield _seeded(url, seed)


def _seeded(url: str, seed: list[str]) -> str:
    engine = open_engine(url)
    try:
        for statement in seed:
            engine.execute(statement)
    finally:
        engine.close()
    return url


def analyze(
    url: str, *migrations: list[str], lock_timeout_ms: int | None = 5000, transactional: bool | None = None
) -> list[Finding]:
    """The findings for these migrations (each a list of statements) run in order."""
    engine = open_engine(url)
    try:
        in_transaction = engine.caps.transactional_ddl if transactional is None else transactional
        scripts = [
            ScriptToCheck(str(i), "up", tuple(statements), in_transaction)
            for i, statements in enumerate(migrations, start=1)
        ]
        return find(engine, scripts, lock_timeout_ms=lock_timeout_ms)
    finally:
        engine.close()


def labels(findings: list[Finding]) -> set[tuple[str, str]]:
    """{(rule, severity)} of the findings above info."""
    return {(f.rule, f.severity) for f in findings if f.severity != "info"}


def one(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, f"expected one {rule} finding, got {findings}"
    return matching[0]
