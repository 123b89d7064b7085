"""`db-migrate test`: rehearse the pending migrations on a scratch copy of the environment's database.

copy -> snapshot (schema, row counts, checksums) -> apply (the same service apply, approved: it is
only the copy) -> validate (constraints hold, untouched tables unchanged) -> roll back -> compare
with the original -> drop the copy (always, also when a step fails). The environment itself is only
read. Every step is timed, so the report says how long the real run is likely to take.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import clone
from ..dialects import Engine, open_engine
from ..errors import MigrationError
from ..migrations.model import Migration
from ..migrations.plan import make_plan
from ..reports import Check, RunReport, TableResult, TestedMigration, TestReport, TestStep
from ..requests import TestRequest
from ..urls import redact
from .backups import refuse_partly_restored
from .context import Progress, ProgressEvent, connect, open_project
from .migrate import ApplyRequest, RollbackRequest, apply, dirty_error, rollback, select_pending

SCRATCH_PREFIX = "_mm_"  # the tool's own tables (archives) are not part of the user's schema


@dataclass
class Picture:
    """What the copy looks like at one moment: schema shape, and per table its columns and checksum."""

    shape: dict[str, Any]
    columns: dict[str, list[str]]
    prints: dict[str, str]

    def rows(self, table: str) -> int | None:
        found = self.prints.get(table)
        return int(found.split(":", 1)[0]) if found else None


def test(request: TestRequest, progress: Progress | None = None) -> TestReport:
    started = time.monotonic()
    project = open_project(request)
    migrations = project.read_migrations()
    with connect(project, lock=False) as conn:  # read only: no lock, no history table created
        refuse_partly_restored(conn)  # a rehearsal on half a database proves nothing
        plan = make_plan(migrations, conn.history.rows())
        if plan.dirty:
            raise dirty_error(plan.dirty[0])
        plan.refuse_conflicts()
        selected = select_pending(plan, request.to_version)
        report = TestReport(
            environment=project.target.name,
            database=project.target.display_url,
            server_version=conn.engine.server_version(),
            version_before=plan.current_version,
        )
        ignored = (conn.history.table, conn.history.log_table)
    if not selected:
        report.outcome, report.message = "nothing-to-do", "Nothing is pending: there is nothing to test."
        return report
    report.migrations = [TestedMigration(version=m.version, name=m.name) for m in selected]
    rehearsal = Rehearsal(request, report, selected, ignored, progress)
    try:
        rehearsal.run()
    finally:
        report.total_ms = _ms(started)
    return report


test.__test__ = False  # a use case, not a pytest test


class Rehearsal:
    """One test run: owns the copy and drops it whatever happens."""

    def __init__(
        self,
        request: TestRequest,
        report: TestReport,
        selected: list[Migration],
        ignored: tuple[str, ...],
        progress: Progress | None,
    ) -> None:
        self.request, self.report, self.selected, self.progress = request, report, selected, progress
        self.ignored = {t.lower() for t in ignored}
        self.touched = _touched_tables(selected)

    def run(self) -> None:
        source_url = open_project(self.request).target.url
        self._drop_leftovers(source_url)
        with self.step("copy the database") as step:
            copy = clone.make_copy(source_url)
            self.report.copy_name, self.report.copy_method = redact(copy.name), copy.method
            step.detail = copy.method
        try:
            self._rehearse(copy)
        except Exception:  # noqa: BLE001 - the failed step is in the report; the copy is dropped below
            pass
        finally:
            with self.step("drop the copy", raise_errors=False) as step:
                copy.drop()
                step.detail = self.report.copy_name or ""
            self.report.copy_dropped = self.report.steps[-1].ok
            if not self.report.copy_dropped:
                self.report.notes.append(f"The copy {self.report.copy_name} could not be dropped: drop it by hand.")
        self._conclude()

    def _rehearse(self, copy: clone.ScratchCopy) -> None:
        engine = open_engine(copy.url)
        try:
            with self.step("snapshot: schema, row counts, checksums"):
                original = self.picture(engine)
            self.report.tables = [
                TableResult(table=t, touched=t in self.touched, rows_before=original.rows(t) or 0)
                for t in sorted(original.prints)
            ]
            engine.close()  # apply and rollback open their own sessions (and SQLite wants no reader in the way)
            if not self._apply_on(copy):
                return
            engine = open_engine(copy.url)
            with self.step("validate: constraints, row counts, untouched tables"):
                self.validate_after_apply(engine, original)
            engine.close()
            if not self._rollback_on(copy):
                return
            engine = open_engine(copy.url)
            with self.step("compare with the original"):
                self._compare(engine, original)
        finally:
            engine.close()

    # ---- the steps -------------------------------------------------------------------------
    def _drop_leftovers(self, source_url: str) -> None:
        """Copies left by killed test runs (never a running one's: clone.orphaned_copies)."""
        try:
            dropped = clone.orphaned_copies(source_url, drop=True)
        except Exception as exc:  # noqa: BLE001 - housekeeping: the rehearsal itself does not depend on it
            self.report.notes.append(
                "Copies left by killed test runs were not checked: " + redact(" ".join(str(exc).split()))[:400]
            )
            return
        if dropped:
            self.report.notes.append(
                f"Dropped {len(dropped)} copy(ies) left by killed test runs: {', '.join(dropped)}."
            )

    def _apply_on(self, copy: clone.ScratchCopy) -> bool:
        request = ApplyRequest(
            project_dir=self.request.project_dir,
            migrations_dir=self.request.migrations_dir,
            url=copy.url,
            to_version=self.selected[-1].version,
            approved=True,
            outside_window=True,
        )
        with self.step("apply on the copy", raise_errors=False) as step:
            result = apply(request, self.progress)
            step.ok, step.detail = result.outcome == "done", result.message
        self._record(result, "apply")
        self.report.version_tested = result.version_after
        return step.ok

    def _rollback_on(self, copy: clone.ScratchCopy) -> bool:
        applied = sum(1 for m in self.report.migrations if m.applied)
        request = RollbackRequest(
            project_dir=self.request.project_dir,
            migrations_dir=self.request.migrations_dir,
            url=copy.url,
            steps=applied,
            approved=True,
            outside_window=True,
        )
        with self.step("roll back on the copy", raise_errors=False) as step:
            result = rollback(request, self.progress)
            step.ok, step.detail = result.outcome == "done", result.message
        self._record(result, "rollback")
        return step.ok

    def _record(self, result: RunReport, action: str) -> None:
        by_version = {m.version: m for m in self.report.migrations}
        for run in result.migrations:
            tested = by_version.get(run.version)
            if tested is None:
                continue
            if action == "apply":  # "rolled-back" here: applied, then undone by autoOnFailure
                tested.applied, tested.apply_ms = run.status in ("applied", "rolled-back"), run.duration_ms
                tested.rolled_back = run.status == "rolled-back"
            else:
                tested.rolled_back, tested.rollback_ms = run.status == "rolled-back", run.duration_ms
            tested.error = run.error or tested.error
        if result.outcome == "failed" and result.error:
            self.report.notes.append(f"{action} on the copy failed: {result.message}")

    def validate_after_apply(self, engine: Engine, original: Picture, known: frozenset[str] = frozenset()) -> None:
        """The checks after the apply; `known`: constraint problems found before it, which it did not cause."""
        now = self.picture(engine)
        problems = [p for p in clone.constraint_problems(engine) if p not in known]
        self.report.checks.append(
            Check(
                name="constraints hold",
                ok=not problems,
                detail="; ".join(problems) or "every constraint and foreign key is satisfied",
            )
        )
        changed_counts, changed_data = [], []
        for result in self.report.tables:
            result.rows_after_apply = now.rows(result.table)
            if result.touched or result.rows_after_apply is None:
                continue
            same_columns = now.columns.get(result.table) == original.columns[result.table]
            result.unchanged_after_apply = same_columns and now.prints[result.table] == original.prints[result.table]
            if result.rows_after_apply != result.rows_before:
                changed_counts.append(f"{result.table}: {result.rows_before} -> {result.rows_after_apply}")
            elif not result.unchanged_after_apply:
                changed_data.append(result.table)
        self.report.checks.append(
            Check(
                name="row counts of untouched tables preserved",
                ok=not changed_counts,
                detail="; ".join(changed_counts) or "all equal",
            )
        )
        self.report.checks.append(
            Check(
                name="untouched tables unchanged (checksums)",
                ok=not changed_data,
                detail=", ".join(changed_data) or "all equal",
            )
        )
        moved = [
            f"{r.table}: {r.rows_before} -> {r.rows_after_apply}"
            for r in self.report.tables
            if r.touched and r.rows_after_apply is not None and r.rows_after_apply != r.rows_before
        ]
        if moved:
            self.report.notes.append("Row counts changed by the migrations: " + "; ".join(moved))

    def _compare(self, engine: Engine, original: Picture) -> None:
        final = self.picture(engine)
        differences = _shape_differences(original.shape, final.shape)
        self.report.schema_differences = differences
        self.report.checks.append(
            Check(
                name="schema identical after rollback",
                ok=not differences,
                detail="; ".join(differences[:10]) or "identical",
            )
        )
        moved = [
            t
            for t in original.columns
            if t in final.columns
            and original.columns[t] != final.columns[t]
            and sorted(original.columns[t]) == sorted(final.columns[t])
        ]
        if moved:
            self.report.notes.append(
                "Column order changed after rollback (SELECT * lists them differently) in: " + ", ".join(moved)
            )
        lost = []
        for result in self.report.tables:
            result.rows_after_rollback = final.rows(result.table)
            if result.table in final.prints:
                result.restored_after_rollback = final.prints[result.table] == self._print_as(
                    engine, original, result.table, final
                )
            if not result.restored_after_rollback:
                lost.append(result.table)
        self.report.checks.append(
            Check(
                name="data identical after rollback",
                ok=not lost,
                detail=("rows or values differ in: " + ", ".join(lost))
                if lost
                else "every table's checksum equals the original",
            )
        )

    def _conclude(self) -> None:
        failed = [s.name for s in self.report.steps if not s.ok] + [c.name for c in self.report.checks if not c.ok]
        self.report.outcome = "failed" if failed else "passed"
        where = self.report.environment
        if failed:
            self.report.message = f"Test FAILED on a copy of {where}: " + "; ".join(failed) + "."
        else:
            self.report.message = (
                f"Test passed on a copy of {where}: the migrations apply, keep every constraint, "
                "and roll back to the identical schema and data."
            )
        self.report.message += " The environment itself was not changed."

    # ---- helpers ---------------------------------------------------------------------------
    def picture(self, engine: Engine) -> Picture:
        shape = _schema_shape(engine, self._is_user_table)
        columns = {t: shape[t]["column_order"] for t in shape if not shape[t]["view"]}
        prints = {t: clone.fingerprint(engine, t, sorted(cols)) for t, cols in columns.items()}
        return Picture(shape, columns, prints)

    def _print_as(self, engine: Engine, original: Picture, table: str, final: Picture) -> str:
        """The original checksum, unless the columns differ now (then: unequal by definition)."""
        if sorted(final.columns.get(table, [])) != sorted(original.columns[table]):
            return "columns differ"
        return original.prints[table]

    def _is_user_table(self, name: str) -> bool:
        return name.lower() not in self.ignored and not name.lower().startswith(SCRATCH_PREFIX)

    @contextmanager
    def step(self, name: str, raise_errors: bool = True) -> Iterator[TestStep]:
        step = TestStep(name=name, ok=True, duration_ms=0)
        if self.progress:
            self.progress(ProgressEvent(phase="test", message=name))
        started = time.monotonic()
        try:
            yield step
        except MigrationError as exc:
            step.ok, step.detail = False, exc.message
            if raise_errors:
                raise
        except Exception as exc:
            step.ok, step.detail = False, redact(" ".join(str(exc).split()))[:400]
            if raise_errors:
                raise
        finally:
            step.duration_ms = _ms(started)
            self.report.steps.append(step)


def _touched_tables(migrations: list[Migration]) -> set[str] | _Everything:
    """Tables named in the UP statements (a word match: over-approximating only weakens a check)."""
    if any(m.up.is_python for m in migrations):
        return _Everything()  # Python code can touch any table
    text = "\n".join(s for m in migrations for s in m.up.statements)
    return _NamedIn(text)


class _Everything:
    def __contains__(self, table: object) -> bool:
        return True


class _NamedIn:
    def __init__(self, text: str) -> None:
        self.words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", text)}

    def __contains__(self, table: object) -> bool:
        return str(table).lower() in self.words


def _schema_shape(engine: Engine, wanted: Callable[[str], bool]) -> dict[str, Any]:
    """Tables and views with columns, keys, indexes, foreign keys and checks, as comparable values."""
    import sqlalchemy

    sa_engine = sqlalchemy.create_engine(engine.sqlalchemy_url(), poolclass=sqlalchemy.pool.NullPool)
    try:
        inspector = sqlalchemy.inspect(sa_engine)
        shape = {t: _table_shape(inspector, t) for t in inspector.get_table_names() if wanted(t)}
        for view in inspector.get_view_names():
            if wanted(view):
                shape[view] = {
                    "view": True,
                    "column_order": [],
                    "columns": {},
                    "definition": " ".join((inspector.get_view_definition(view) or "").split()),
                }
        return shape
    finally:
        sa_engine.dispose()


def _table_shape(inspector: Any, table: str) -> dict[str, Any]:
    columns = inspector.get_columns(table)
    return {
        "view": False,
        "column_order": [c["name"] for c in columns],
        "columns": {
            c["name"]: f"{c['type']} {'NULL' if c['nullable'] else 'NOT NULL'} default {c.get('default')}"
            for c in columns
        },
        "primary key": tuple(inspector.get_pk_constraint(table).get("constrained_columns") or ()),
        "indexes": sorted(
            (i["name"] or "", tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
        ),
        "unique constraints": sorted(
            (u["name"] or "", tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
        ),
        "foreign keys": sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in inspector.get_foreign_keys(table)
        ),
        "checks": sorted(" ".join(str(c.get("sqltext", "")).split()) for c in _checks(inspector, table)),
    }


def _checks(inspector: Any, table: str) -> list[dict[str, Any]]:
    try:
        return inspector.get_check_constraints(table)
    except NotImplementedError:
        return []


def _shape_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    differences = [f"{t} is missing" for t in sorted(set(before) - set(after))]
    differences += [f"{t} was added" for t in sorted(set(after) - set(before))]
    for table in sorted(set(before) & set(after)):
        old, new = before[table], after[table]
        for column in old.get("columns", {}):
            if column not in new["columns"]:
                differences.append(f"{table}.{column} is missing")
            elif old["columns"][column] != new["columns"][column]:
                differences.append(f"{table}.{column}: {old['columns'][column]} became {new['columns'][column]}")
        differences += [f"{table}.{c} was added" for c in new.get("columns", {}) if c not in old["columns"]]
        for part in ("primary key", "indexes", "unique constraints", "foreign keys", "checks", "definition"):
            if old.get(part) != new.get(part):
                differences.append(f"{table} {part}: {old.get(part)} became {new.get(part)}")
    return differences


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
