"""The offline strategy: the traditional deployment, driven by the tool.

Inside the maintenance window only: `offline.stop` (stop the application or put it in maintenance mode), the
pre-apply backup (autoBackup), apply, validate on the live database (the schema is the one the replay of the
migrations expects; the `db-migrate test` checks: constraints the migrations broke, untouched tables unchanged),
then `offline.start`. A failure after the stop is undone per rollback.autoOnFailure (apply's own recovery for a
failed migration; DOWN scripts, else the backup, for a failed validation) and `offline.start` runs all the same.
The downtime is measured from the start of stop to the end of start.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from ..config import OfflineSettings, in_maintenance_window
from ..dialects import open_engine
from ..errors import ApprovalRequired, ConfigError, MigrationError
from ..reports import Check, ErrorReport, OfflineReport, RunReport, StrategyStep, TableResult, TestReport
from ..service.context import Progress, ProgressEvent, open_project
from ..service.migrate import ApplyRequest, RollbackRequest, apply, rollback

OUTPUT_TAIL = 600  # characters of a command's output kept in the report


class Offline:
    """One offline deployment: owns the report, and the start command that must run once the stop ran."""

    def __init__(self, request: ApplyRequest, progress: Progress | None) -> None:
        self.request, self.progress = request, progress
        self.own_backup: str | None = None  # taken here when autoBackup is off: offline always backs up
        self.project = open_project(request)
        self.commands = _commands(self.project)
        target = self.project.target
        self.report = OfflineReport(environment=target.name, database=target.display_url)

    def run(self) -> OfflineReport:
        preview = apply(self.request.model_copy(update={"dry_run": True}), self.progress)
        self._take_plan(preview)
        if preview.outcome != "dry-run" or self.request.dry_run or self._needs_approval():
            return self.report
        self._check_window()
        stopped_at = time.monotonic()
        try:
            if self._command("stop"):
                self._deploy()
            else:
                self._fail("offline.stop failed: nothing was migrated.")
        finally:
            started = self._command("start")
            self.report.downtime_ms = int((time.monotonic() - stopped_at) * 1000)
        if not started:
            self._fail("offline.start failed: the application may still be stopped; start it by hand.")
        self._conclude()
        return self.report

    # ---- before the stop -------------------------------------------------------------------
    def _take_plan(self, preview: RunReport) -> None:
        """The dry run's verdict is the plan: refused, nothing to do, or what the approval binds to."""
        report = self.report
        report.apply, report.plan_id = preview, preview.plan_id
        report.approval_reasons, report.needs_approval = preview.approval_reasons, preview.needs_approval
        if preview.outcome == "nothing-to-do":
            report.outcome, report.message = "nothing-to-do", preview.message + " The application was not stopped."
        elif preview.outcome == "failed":
            report.outcome, report.error = "failed", preview.error
            report.message = preview.message + " The application was not stopped."
        elif self.request.dry_run:
            report.outcome = "dry-run"
            report.message = (
                f"Dry run: would run `{self.commands.stop}`, back up, apply {len(preview.migrations)} migration(s), "
                f"validate, then run `{self.commands.start}`. Nothing was changed."
            )

    def _needs_approval(self) -> bool:
        approved = self.request.approved and self.request.approved_plan_id in (None, self.report.plan_id)
        if self.report.needs_approval and not approved:
            self.report.outcome = "needs-approval"
            self.report.message = f"Approval needed before `{self.commands.stop}` stops the application: " + "; ".join(
                self.report.approval_reasons
            )
            return True
        return False

    def _check_window(self) -> None:
        target = self.project.target
        window = target.maintenance_window
        if window and not self.request.outside_window and not in_maintenance_window(window):
            raise ApprovalRequired(
                f"The offline strategy stops the application of '{target.name}': only inside its maintenance "
                f"window ({window}).",
                state="Nothing was stopped or changed.",
                next_step="Run it inside the window, or (as a human, deliberately) add --outside-window.",
            )

    # ---- while the application is stopped -------------------------------------------------------
    def _deploy(self) -> None:
        """Apply and validate; a failure is undone per autoOnFailure. Never raises a MigrationError: the
        start command must run, and the report says what happened."""
        try:
            with self._step("snapshot: schema, row counts, checksums, constraints"):
                before = LiveState(self.project, self.request, [m.version for m in self.report.apply.migrations])
            self._back_up_if_apply_will_not()
            result = self._apply()
            if result.outcome != "done":
                how = result.failure_recovery or "not recovered (autoOnFailure is off)"
                self.report.recovery = f"apply: {how}"
                self._fail(f"apply failed: {result.message}", result.error)
                if result.failure_recovery == "not-recovered" and self.own_backup:
                    self._restore(self.own_backup)  # the apply had no backup of its own to go back to
                return
            with self._step("validate on the live database") as step:
                self.report.checks = before.checks_after(result)
                failed = [c.name for c in self.report.checks if not c.ok]
                step.ok, step.detail = not failed, "; ".join(failed) or "all checks pass"
            if failed:
                self._fail("validation after the apply failed: " + "; ".join(failed) + ".")
                self._undo(result)
        except MigrationError as exc:
            self._fail(exc.message, ErrorReport.of(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. the server went away: the start command must still run
            self._fail(f"{type(exc).__name__}: {' '.join(str(exc).split())[:OUTPUT_TAIL]}")

    def _back_up_if_apply_will_not(self) -> None:
        """The offline path always backs up: apply does with autoBackup on, this step does with it off."""
        if self.project.settings.autoBackup:
            return
        from ..service.backups import BackupRequest, backup

        with self._step("back up (autoBackup is off; offline backs up all the same)") as step:
            made = backup(BackupRequest(**self._target(), action="create"), self.progress)
            self.own_backup, step.detail = made.backups[0].id, made.message

    def _apply(self) -> RunReport:
        approved = self.request.model_copy(
            update={"approved": True, "approved_plan_id": self.report.plan_id, "outside_window": True}
        )
        with self._step("back up and apply") as step:
            result = apply(approved, self.progress)
            step.ok, step.detail = result.outcome == "done", result.message
        self.report.apply = result
        return result

    def _undo(self, result: RunReport) -> None:
        """rollback.autoOnFailure after a failed validation: the DOWN scripts, else the pre-apply backup."""
        if not self.project.settings.rollback.autoOnFailure:
            self.report.recovery = "not recovered: rollback.autoOnFailure is off; the migrations stay applied"
            return
        applied = sum(1 for m in result.migrations if m.status == "applied")
        request = RollbackRequest(**self._target(), steps=applied, approved=True, outside_window=True, emergency=False)
        with self._step("roll back (autoOnFailure)", raise_errors=False) as step:
            undone = rollback(request, self.progress)
            step.ok, step.detail = undone.outcome == "done", undone.message
        if step.ok:
            self.report.recovery = f"down-scripts: rolled back {applied} migration(s)"
            return
        if not (result.backup_id or self.own_backup):
            self.report.recovery = "not recovered: the rollback failed and there is no backup (autoBackup is off)"
            return
        self._restore(result.backup_id or self.own_backup)

    def _restore(self, backup_id: str) -> None:
        from ..service.backups import RestoreRequest, restore

        request = RestoreRequest(**self._target(), backup_id=backup_id, approved=True, outside_window=True)
        with self._step("restore the pre-apply backup (autoOnFailure)", raise_errors=False) as step:
            restored = restore(request, self.progress)
            step.ok, step.detail = restored.outcome == "done", restored.message
        self.report.recovery = f"backup-restore: {backup_id}" if step.ok else "not recovered: the restore failed"

    # ---- commands and steps ------------------------------------------------------------------------
    def _command(self, which: str) -> bool:
        command = getattr(self.commands, which)
        with self._step(f"offline.{which}: {command}", raise_errors=False) as step:
            step.ok, step.detail = run_command(command, self.project, self.commands.commandTimeoutSeconds)
        return step.ok

    def _target(self) -> dict:
        return {
            "project_dir": self.request.project_dir,
            "env": self.request.env,
            "url": self.request.url,
            "migrations_dir": self.request.migrations_dir,
        }

    def _fail(self, message: str, error: ErrorReport | None = None) -> None:
        report = self.report
        report.outcome = "failed"
        report.message = (report.message + "\n" if report.message else "") + message
        report.error = report.error or error

    def _conclude(self) -> None:
        report = self.report
        downtime = f"Downtime {report.downtime_ms / 1000:.1f} s (stop to start)."
        if report.outcome == "failed":
            report.message += f"\n{downtime}" + (f" Recovery: {report.recovery}." if report.recovery else "")
            report.error = report.error or ErrorReport(
                error="offline_failed",
                message=report.message,
                state=f"Recovery: {report.recovery or 'nothing to undo'}.",
                next_step="`db-migrate status` shows the database; the steps say what failed.",
            )
            return
        done = report.apply.message if report.apply else ""
        report.message = f"Offline deployment done: {done} Validated on the live database. {downtime}"

    @contextmanager
    def _step(self, name: str, raise_errors: bool = True) -> Iterator[StrategyStep]:
        step = StrategyStep(name=name)
        if self.progress:
            self.progress(ProgressEvent(phase="strategy", message=name))
        started = time.monotonic()
        try:
            yield step
        except Exception as exc:
            step.ok, step.detail = False, getattr(exc, "message", None) or " ".join(str(exc).split())[:OUTPUT_TAIL]
            if raise_errors:
                raise
        finally:
            step.duration_ms = int((time.monotonic() - started) * 1000)
            self.report.steps.append(step)


class LiveState:
    """The live database before the apply (schema, row counts, checksums, constraint problems), and the checks
    that compare it with the database after."""

    def __init__(self, project, request: ApplyRequest, versions: list[str]) -> None:
        from ..analysis.schema import read_schema
        from ..clone import constraint_problems
        from ..history import History
        from ..service.rehearsal import Rehearsal, TestRequest

        self.project = project
        self.migrations = [m for m in project.read_migrations() if m.version in versions]
        test_request = TestRequest(**request.model_dump(include={"project_dir", "env", "url", "migrations_dir"}))
        with closing(open_engine(project.target.url)) as engine:
            history = History(engine, project.settings.historyTable)
            self.exclude = (history.table, history.log_table)
            self.schema = read_schema(engine, exclude=self.exclude)
            target = project.target
            self.checks = TestReport(
                environment=target.name, database=target.display_url, server_version=engine.server_version()
            )
            self.rehearsal = Rehearsal(test_request, self.checks, self.migrations, self.exclude, None)
            self.picture = self.rehearsal.picture(engine)
            self.known_problems = frozenset(constraint_problems(engine))
        self.checks.tables = [
            TableResult(table=t, touched=t in self.rehearsal.touched, rows_before=self.picture.rows(t) or 0)
            for t in sorted(self.picture.prints)
        ]

    def checks_after(self, result: RunReport) -> list[Check]:
        from ..analysis.schema import read_schema

        with closing(open_engine(self.project.target.url)) as engine:
            expected = self._schema_check(read_schema(engine, exclude=self.exclude), result)
            self.rehearsal.validate_after_apply(engine, self.picture, self.known_problems)
        return [expected, *self.checks.checks]

    def _schema_check(self, live, result: RunReport) -> Check:
        """The live schema against the replay of the applied migrations on the schema before."""
        from ..analysis.simulate import expected_schema, schema_differences

        if any(m.up.is_python for m in self.migrations):
            return Check(name="schema as expected", ok=True, warning=True, detail="not checked: a Python migration")
        applied = {m.version for m in result.migrations if m.status == "applied"}
        replay = expected_schema(self.schema, [m for m in self.migrations if m.version in applied])
        found = schema_differences(replay, live)
        return Check(name="schema as expected", ok=not found, detail="; ".join(found[:10]) or "as the migrations say")


def _commands(project) -> OfflineSettings:
    environment = project.settings.environments.get(project.target.name)
    commands = (environment.offline if environment else None) or project.settings.offline
    missing = [name for name in ("stop", "start") if not getattr(commands, name)]
    if missing:
        raise ConfigError(
            f"The offline strategy needs offline.{' and offline.'.join(missing)}: the commands that stop the "
            "application before the migration and start it after.",
            state="Nothing was stopped or changed.",
            next_step='Set e.g. "offline": {"stop": "systemctl stop app", "start": "systemctl start app"} in the '
            "settings (or under the environment).",
        )
    return commands


def run_command(command: str, project, timeout_s: float) -> tuple[bool, str]:
    """Run a configured shell command in the project folder; (succeeded, the tail of its output)."""
    env = {**os.environ, "MM_ENV": project.target.name}
    try:
        done = subprocess.run(  # shell=True: a command the user configured
            command, shell=True, cwd=project.dir, env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return False, f"did not finish within {timeout_s:g} s (offline.commandTimeoutSeconds)"
    output = (done.stdout + done.stderr).strip()[-OUTPUT_TAIL:]
    if done.returncode:
        return False, f"exit code {done.returncode}" + (f": {output}" if output else "")
    return True, output or "ok"


def offline(request: ApplyRequest, progress: Progress | None = None) -> OfflineReport:
    """apply with the offline strategy (see the module's docstring)."""
    return Offline(request, progress).run()
