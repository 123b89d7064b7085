"""Does a migration's DOWN undo its UP? Replay the DOWN on the schema the UP produced and compare
with the schema before the UP: objects left behind, objects missing, columns changed.

Generated histories (one file per step of a logical change) often ship DOWNs that are shifted: the DOWN
of one version undoes the UP of a neighbour, and only the whole DOWN sequence, run in reverse as a
rollback runs it, undoes the whole UP sequence. So a pair that does not match is reported only when the
rollback itself does not get back to a schema the UPs went through (`rollback_findings`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...migrations.model import Migration
from ..model import Finding
from ..operations import script_operations
from ..schema import Snapshot
from .replay import Replay

GROUPS_NAMED = 10  # in the info about DOWNs that undo their UPs only together


@dataclass
class UndoStep:
    """One migration of the UP replay, for the rollback check: its DOWN's statements, the schema before its
    UP, and what the check of its own UP/DOWN pair found."""

    migration: Migration
    down: tuple[str, ...]
    before: Snapshot
    findings: list[Finding] = field(default_factory=list)


def undo_findings(migration: Migration, before: Snapshot, after_up: Replay) -> list[Finding]:
    """`before` is the copy of `after_up.schema` taken just before the UP ran."""
    up_touched = set(after_up.schema.touched)
    down = Replay(
        after_up.schema.copy(), migration=migration.version, direction="down", uncertain=set(after_up.uncertain)
    )
    if migration.down.is_python:
        return []  # a Python DOWN can do anything: nothing to compare
    down.run(script_operations(migration.down.statements, before.dialect))
    findings = _as_down_warnings(down.findings)
    differences = _schema_differences(before, down, up_touched | down.schema.touched)
    if differences:
        findings.append(
            Finding(
                rule="down-does-not-undo",
                severity="warning",
                title="DOWN does not undo UP",
                migration=migration.version,
                direction="down",
                message=f"After UP then DOWN of {migration.label} the schema differs from before: "
                + "; ".join(differences)
                + ".",
                recommendation="Make the DOWN reverse every change of the UP, in reverse order.",
            )
        )
    return findings


def rollback_findings(
    steps: list[UndoStep], after_all: Snapshot, uncertain: set[str], touched: set[str]
) -> list[Finding]:
    """The DOWN findings of consecutive migrations, judged as a rollback runs them: every DOWN in reverse
    from `after_all` (the schema after the last UP). Where the rollback gets back to the schema before some
    UP, the migrations since then form a group whose DOWNs undo their UPs together: their own pairs'
    findings are dropped, the rollback's failing statements kept. The migrations below the last such point
    keep their pairs' findings (a genuinely wrong DOWN never lets the rollback get back). `touched`: the
    tables the UPs touched since the first step's `before`."""
    if not any(step.findings for step in steps):
        return []
    rollback = Replay(after_all.copy(), direction="down", uncertain=set(uncertain))
    findings, group, groups = [], [], []
    for step in reversed(steps):
        rollback.migration, first = step.migration.version, len(rollback.findings)
        rollback.run(script_operations(step.down, after_all.dialect))
        group.append((step, rollback.findings[first:]))
        if not _schema_differences(step.before, rollback, touched | rollback.schema.touched):
            findings += [f for _, failed in group for f in _as_down_warnings(failed)]
            if any(s.findings for s, _ in group) and len(group) > 1:
                groups.append((group[-1][0].migration.version, group[0][0].migration.version))
            group = []
    findings += [f for step, _ in group for f in step.findings]  # never got back: each pair's own findings
    return findings + _group_info(groups)


def _group_info(groups: list[tuple[str, str]]) -> list[Finding]:
    if not groups:
        return []
    ranges = ", ".join(f"{low}..{high}" for low, high in reversed(groups[-GROUPS_NAMED:]))
    more = f" and {len(groups) - GROUPS_NAMED} more" if len(groups) > GROUPS_NAMED else ""
    return [
        Finding(
            rule="down-undoes-group",
            severity="info",
            title="DOWNs undo their UPs only together",
            migration=groups[-1][0],
            direction="down",
            message=f"In {len(groups)} group(s) of consecutive migrations ({ranges}{more}) the DOWN of one version "
            "undoes another version's UP: rolled back together, in reverse, the DOWNs of a group restore the "
            "schema before it; rolled back to a version inside a group, the schema is one the UPs never made.",
            recommendation="Roll back whole groups, or move each DOWN's statements to the version whose UP they undo.",
        )
    ]


def _as_down_warnings(found: list[Finding]) -> list[Finding]:
    # A DOWN that fails stops a rollback, not this apply: report it, but as a warning.
    return [
        f.model_copy(
            update={"severity": "warning" if f.severity == "error" else f.severity, "message": f"DOWN: {f.message}"}
        )
        for f in found
    ]


def _schema_differences(before: Snapshot, down: Replay, touched: set[str]) -> list[str]:
    changed = before.changed_tables(down.schema, among=touched)
    return differences(before.shape(changed), down.schema.shape(changed), down.uncertain)


def differences(before: dict, after: dict, uncertain: set[str]) -> list[str]:
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
