"""The migration matrix across environments: which version is applied where."""

from __future__ import annotations

from ..errors import MigrationError
from ..migrations.formats import version_key
from ..migrations.plan import make_plan
from ..reports import CompareReport, CompareRow
from ..requests import CompareRequest
from .context import connect, open_project


def compare(request: CompareRequest) -> CompareReport:
    base = open_project(request)
    names = request.environments or list(base.settings.environments)
    migrations = base.read_migrations()
    states: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for name in names:
        try:
            project = open_project(request.model_copy(update={"env": name, "url": None}))
            with connect(project, lock=False) as conn:
                plan = make_plan(project.read_migrations(), conn.history.rows())
        except MigrationError as exc:
            errors[name] = exc.message
            continue
        states[name] = {r.version: ("applied" if not r.dirty else "dirty") for r in plan.applied + plan.dirty}
        for migration, _ in plan.edited:
            states[name][migration.version] = "edited"
    versions = sorted({m.version for m in migrations} | {v for s in states.values() for v in s}, key=version_key)
    labels = {m.version: m.name for m in migrations}
    rows = [
        CompareRow(version=v, name=labels.get(v, "(no file)"), states={n: states[n].get(v, "pending") for n in states})
        for v in versions
    ]
    return CompareReport(environments=list(states), rows=rows, summary=_summary(states, versions), errors=errors)


def _summary(states: dict[str, dict[str, str]], versions: list[str]) -> list[str]:
    if not states:
        return ["No environment could be read."]
    counts = {n: sum(1 for v in versions if s.get(v) == "applied") for n, s in states.items()}
    ahead = max(counts.values())
    lines = [
        f"{n} is {ahead - c} migration(s) behind the most advanced environment" for n, c in counts.items() if c < ahead
    ]
    lines += [f"{n} has a {st} migration: {v}" for n, s in states.items() for v, st in s.items() if st != "applied"]
    return lines or ["All environments are at the same version."]
