"""The rollback plan, built before anything runs and shown before approval and in --dry-run:
for each migration, can it be rolled back (and why not), what its DOWN destroys with real counts,
whether autoBackup backs up first (scope and size), and how long it may take.

Nothing is measured twice: the counts are the drop-table / drop-column rules' probes (one scan per
table, a page sample above 5M rows on PostgreSQL, within the probes' time budget; a figure not
measured in time falls back to the catalog estimate, marked "~"), the durations are analysis/impact's
per-statement estimates from this server's measured throughput, and the backup scope is the one
`backup_before_change` will choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..analysis.model import Finding, Operation
from ..history import HistoryRow
from ..migrations.model import Migration, Script
from ..migrations.plan import Plan
from ..reports import BackupPlan, DataLoss, ErrorReport, RollbackPlan, RollbackStep, RunReport
from ..urls import redact
from .context import Connection

LOSS_RULES = ("drop-table", "drop-column")  # the rules whose probes count what a DROP loses
EMERGENCY_NOTE = "--emergency: no analysis, no schema validation, no backup"  # the event log's detail


@dataclass(frozen=True)
class Undo:
    """One applied migration to roll back: the DOWN that will run (as a Migration), or why there is none."""

    row: HistoryRow
    migration: Migration | None  # None: it cannot be rolled back
    why: str
    source: str | None = None  # "file" | "history"


def undo_for(plan: Plan, row: HistoryRow, dialect: str) -> Undo:
    """The DOWN of an applied migration: from its file, else as recorded when it was applied."""
    from ..migrations.formats.common import irreversible, sql_script

    found = plan.file_for(row.version)
    label = f"{row.version}_{row.name}"
    if found is not None and found.irreversible is not None:
        return Undo(
            row,
            None,
            f"{label} is marked irreversible in its DOWN" + (f": {found.irreversible}" if found.irreversible else ""),
            "file",
        )
    if found is not None and found.down is not None:
        migration, source, where = found, "file", "its file"
    elif row.down_script:  # works even when the file is gone
        migration = Migration(
            version=row.version,
            name=row.name,
            path=Path(row.version),
            format="history",
            up=Script(),
            down=sql_script(row.down_script, dialect),
            checksum=row.checksum or "",
            irreversible=irreversible(row.down_script),
        )
        source, where = "history", "the history (recorded when it was applied)"
        if migration.irreversible is not None:
            return Undo(
                row,
                None,
                f"{label} is marked irreversible in its recorded DOWN"
                + (f": {migration.irreversible}" if migration.irreversible else ""),
                source,
            )
    else:  # an empty DOWN section is no DOWN (migrations.formats.common.build)
        return Undo(row, None, f"{label} has no DOWN script (neither in its file nor recorded when it was applied)")
    kind = "down() of its Python file" if migration.down.is_python else f"DOWN from {where}"
    return Undo(row, migration, kind, source)


def plan_rollback(conn: Connection, undos: list[Undo], findings: list[Finding], *, emergency: bool) -> RollbackPlan:
    ready = [u.migration for u in undos if u.migration is not None]
    steps = [
        RollbackStep(version=u.row.version, name=u.row.name, can_roll_back=u.migration is not None, why=u.why)
        for u in undos
    ]
    if emergency:
        plan = RollbackPlan(
            steps=steps,
            emergency=True,
            backup=BackupPlan(
                will_back_up=False,
                why="no backup: --emergency skips autoBackup (a dump of a large database can take "
                "longer than the emergency allows)",
            ),
        )
        plan.notes.append(
            "--emergency: no analysis, no schema simulation, no row counts and no time estimate; "
            "the DOWN statements below are what will run"
        )
        _fill_losses(conn, steps, ready, None, plan.notes)
        return plan
    plan = RollbackPlan(steps=steps, backup=_backup_plan(conn, ready))
    _fill_losses(conn, steps, ready, _loss_findings(conn, ready, findings, plan.notes), plan.notes)
    _fill_estimates(conn, steps, ready, plan)
    return plan


def emergency_reasons(plan: RollbackPlan | None) -> list[str]:
    """--emergency skips the findings that would ask for approval, so data a DOWN destroys (read from the
    statements alone, uncounted) asks instead: an emergency is never a way around the approval of a DROP."""
    if plan is None or not plan.emergency:
        return []
    return [
        f"--emergency, without analysis or backup: {s.version}_{s.name} {loss.text}"
        for s in plan.steps
        for loss in s.destroys
    ]


def refuse_unavailable(report: RunReport) -> bool:
    """A migration in the plan cannot be rolled back: nothing runs (the plan still shows every verdict)."""
    from ..errors import RollbackUnavailable

    plan = report.rollback_plan
    blocked = [s for s in plan.steps if not s.can_roll_back] if plan else []
    if not blocked:
        return False
    report.outcome = "failed"
    report.message = f"Cannot roll back {len(blocked)} of {len(plan.steps)} migration(s): nothing was rolled back."
    report.error = ErrorReport.of(
        RollbackUnavailable(
            "; ".join(s.why for s in blocked) + ".",
            state="Nothing was rolled back.",
            next_step="Write a DOWN section for it, or restore from a backup (`db-migrate restore`); "
            "`--steps N` or `--to VERSION` stops before it.",
        )
    )
    return True


# ---- what each DOWN destroys ---------------------------------------------------------------
def _loss_findings(conn: Connection, ready: list[Migration], findings: list[Finding], notes: list[str]):
    """The drop rules' findings: those of the safety check, or (safetyCheck off) those rules alone."""
    if conn.project.settings.validation.safetyCheck:
        return [f for f in findings if f.rule in LOSS_RULES]
    from ..analysis.rules import all_rules
    from .analyze import findings_for_plan

    rules = [r for r in all_rules() if r.id in LOSS_RULES]
    try:
        return findings_for_plan(conn.engine, ready, "down", rules=rules)
    except Exception as exc:  # noqa: BLE001 - advisory figures must never stop a rollback
        notes.append(f"the rows a DOWN destroys could not be counted: {redact(str(exc))[:200]}")
        return []


def _fill_losses(
    conn: Connection,
    steps: list[RollbackStep],
    ready: list[Migration],
    findings: list[Finding] | None,
    notes: list[str],
) -> None:
    from ..analysis.operations import script_operations

    by_version = {s.version: s for s in steps}
    created: set[str] = set()  # tables an earlier DOWN of this rollback (re)creates (or renames one into): empty
    for migration in ready:
        down = migration.down
        ops = [] if down.is_python else script_operations(down.statements, conn.engine.dialect)
        for op in ops:
            new = op.new_table(created)
            if new:
                created.add(new)
            if op.loss and op.table:
                by_version[migration.version].destroys.append(_loss(op, migration.version, findings, created))
        if down.is_python:
            notes.append(f"{migration.label}: a Python down() is not analyzed; what it deletes is not known")


def _loss(op: Operation, version: str, findings: list[Finding] | None, created: set[str]) -> DataLoss:
    base = {"statement_index": op.statement_index, "kind": op.kind, "table": op.table, "column": op.column}
    if findings is None:
        return _with_text(DataLoss(**base, count=None, exact=False, source="not counted", text=""), op, "--emergency")
    if op.table in created and not op.loss.some:
        return _with_text(DataLoss(**base, count=0, source="new in this rollback", text=""), op)
    found = next(
        (
            f
            for f in findings
            if f.migration == version
            and f.direction == "down"
            and f.statement_index == op.statement_index
            and f.table == op.table
            and f.column == op.column
        ),
        None,
    )
    if found is None:
        return _with_text(DataLoss(**base, count=None, exact=False, source="not counted", text=""), op)
    if found.rows_affected is not None:
        source = "counted" if found.exact else "sampled"
        return _with_text(DataLoss(**base, count=found.rows_affected, exact=found.exact, source=source, text=""), op)
    if op.loss.unit == "rows" and found.rows_total is not None:  # not measured in time: the catalog's figure
        loss = DataLoss(**base, count=found.rows_total, exact=False, source="catalog estimate", text="")
        return _with_text(loss, op)
    return _with_text(
        DataLoss(**base, count=None, exact=False, source="not counted", text=""), op, "the count ran out of time"
    )


def _with_text(loss: DataLoss, op: Operation, why_uncounted: str = "") -> DataLoss:
    what, noun = op.loss.what.format(table=op.table, column=op.column), op.loss.unit
    if loss.count is None:
        figure = f"{noun} not counted" + (f": {why_uncounted}" if why_uncounted else "")
    else:
        figure = f"{'' if loss.exact else '~'}{loss.count:,} {noun}"
        figure += {
            "sampled": ", from a page sample",
            "catalog estimate": ", catalog estimate",
            "new in this rollback": ", created earlier in this rollback",
        }.get(loss.source, "")
    loss.text = f"{what} ({figure})"
    return loss


# ---- backup and time -----------------------------------------------------------------------
def _backup_plan(conn: Connection, ready: list[Migration]) -> BackupPlan:
    if not conn.project.settings.autoBackup:
        return BackupPlan(will_back_up=False, why="no backup: autoBackup is off")
    from ..backup import module_for
    from .pre_change_backup import touched_tables

    engine = conn.engine
    try:
        tables = touched_tables(conn, [m.down for m in ready])
        if tables is None:
            return BackupPlan(
                will_back_up=True,
                scope="whole",
                estimated_bytes=module_for(engine.dialect).size(engine),
                why="autoBackup: the whole database (the DOWN scripts' tables cannot be backed up "
                "alone, or this server's backup has no table scope)",
            )
        existing = set(engine.tables())
        size = sum(engine.table_stats(t).bytes for t in tables if t in existing)
    except Exception as exc:  # noqa: BLE001 - the plan says what it could not find out; the backup itself decides
        return BackupPlan(will_back_up=True, why=f"autoBackup (scope and size unknown: {redact(str(exc))[:200]})")
    return BackupPlan(
        will_back_up=True,
        scope="tables",
        tables=tables,
        estimated_bytes=size,
        why="autoBackup: only the tables the DOWN scripts touch (nothing else depends on them)",
    )


def _fill_estimates(conn: Connection, steps: list[RollbackStep], ready: list[Migration], plan: RollbackPlan) -> None:
    settings = conn.project.settings
    if not settings.validation.performanceAnalysis:
        plan.notes.append("no time estimate: validation.performanceAnalysis is off")
        return
    from ..analysis.impact.plan import impact_for_plan

    try:
        impacts = impact_for_plan(
            conn.engine,
            ready,
            "down",
            window=conn.project.target.maintenance_window,
            exclude=(conn.history.table, conn.history.log_table),
            activity_sample_s=0,
        )
    except Exception as exc:  # noqa: BLE001 - an estimate that fails leaves the time unknown, never stops a rollback
        plan.notes.append(f"no time estimate: {redact(str(exc))[:200]}")
        return
    for step in steps:
        migration = next((m for m in ready if m.version == step.version), None)
        if migration is None:
            continue
        if migration.down.is_python:
            step.estimate_basis = "Python down(): not estimated"
            continue
        mine = [i for i in impacts if i.migration == step.version]
        step.estimated_seconds = round(sum(i.estimated_seconds for i in mine), 3)
        heaviest = max(mine, key=lambda i: i.estimated_seconds, default=None)
        step.estimate_basis = heaviest.estimate_basis if heaviest else "no statements"
    known = [s.estimated_seconds for s in steps if s.can_roll_back]
    plan.estimated_seconds = None if any(k is None for k in known) else round(sum(known), 3)
