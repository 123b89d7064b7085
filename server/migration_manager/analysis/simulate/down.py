"""Does a migration's DOWN undo its UP? Replay the DOWN on the schema the UP produced and compare
with the schema before the UP: objects left behind, objects missing, columns changed."""

from __future__ import annotations

from ...migrations.model import Migration
from ..model import Finding
from ..operations import script_operations
from ..schema import Snapshot
from .replay import Replay


def undo_findings(migration: Migration, before: Snapshot, after_up: Replay) -> list[Finding]:
    """`before` is the copy of `after_up.schema` taken just before the UP ran."""
    up_touched = set(after_up.schema.touched)
    down = Replay(after_up.schema.copy(), migration=migration.version, direction="down",
                  uncertain=set(after_up.uncertain))
    if migration.down.is_python:
        return []  # a Python DOWN can do anything: nothing to compare
    down.run(script_operations(migration.down.statements, before.dialect))
    # A DOWN that fails stops a rollback, not this apply: report it, but as a warning.
    findings = [f.model_copy(update={"severity": "warning" if f.severity == "error" else f.severity,
                                     "message": f"DOWN: {f.message}"}) for f in down.findings]
    changed = before.changed_tables(down.schema, among=up_touched | down.schema.touched)
    differences = _differences(before.shape(changed), down.schema.shape(changed), down.uncertain)
    if differences:
        findings.append(Finding(
            rule="down-does-not-undo", severity="warning", title="DOWN does not undo UP", migration=migration.version,
            direction="down", message=f"After UP then DOWN of {migration.label} the schema differs from before: "
            + "; ".join(differences) + ".",
            recommendation="Make the DOWN reverse every change of the UP, in reverse order."))
    return findings


def _differences(before: dict, after: dict, uncertain: set[str]) -> list[str]:
    found = []
    for name in sorted(set(before) | set(after)):
        if name in uncertain:
            continue
        if name not in before:
            found.append(f"table {name} left behind")
        elif name not in after:
            found.append(f"table {name} missing")
        else:
            found += [f"{name}: {d}" for d in _table_differences(before[name], after[name], uncertain)]
    return found


def _table_differences(before: dict, after: dict, uncertain: set[str]) -> list[str]:
    found = []
    for part, noun in (("columns", "column"), ("indexes", "index"), ("constraints", "constraint")):
        old, new = before[part], after[part]
        for name in sorted(set(old) | set(new)):
            if name in uncertain:
                continue
            if name not in old:
                found.append(f"{noun} {name} left behind")
            elif name not in new:
                found.append(f"{noun} {name} missing")
            elif old[name] != new[name] and noun == "column":
                found.append(f"column {name} is {_column_text(new[name])}, was {_column_text(old[name])}")
    return found


def _column_text(shape: tuple) -> str:
    normalized, nullable = shape
    return f"{normalized}{'' if nullable else ' NOT NULL'}"
