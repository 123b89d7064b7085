"""rollback.autoOnFailure: after a failed apply, return the database to its state before the command.

Three paths, cheapest first, and the report says which one was taken (`failure_recovery`):
1. transaction-rollback: the failed migration ran in one transaction (PostgreSQL, SQLite) or its
   failing statement was the first (MariaDB: a single statement is atomic), so it left nothing
   behind; nothing else had been applied by this command.
2. down-scripts: as 1, plus the migrations this command had already applied are undone with
   their DOWN scripts, newest first.
3. backup-restore: the failed migration stopped half-way outside a transaction (MariaDB DDL
   auto-commits) or a DOWN is missing or failed: the pre-apply backup is restored.
When none is possible (no backup: autoBackup off) it is `not-recovered` and the message says
exactly what state the database is in.
"""

from __future__ import annotations

from collections.abc import Callable

from ..backup.manifest import Manifest
from ..errors import MigrationError
from ..reports import MigrationRun, RunReport
from .backups import restore_backup
from .context import Connection


def recover(conn: Connection, report: RunReport, backup: Manifest | None, undo_completed: Callable[[], bool]) -> None:
    failed = next((r for r in report.migrations if r.status == "failed"), None)
    if failed is None:
        return
    if failed.strategy is not None and failed.strategy.rewrites:
        # An online expand phase that stopped (a throttle that did not clear, a lock it could not get) is resumed
        # by the next apply, or undone by rollback: restoring a backup would throw away the writes made since.
        report.failure_recovery = "resumable"
        report.message += (
            f"\nautoOnFailure: {failed.version}_{failed.name} stopped in its {failed.strategy.strategy} expand phase "
            "and is kept as it is: `db-migrate apply` resumes it where it stopped, `db-migrate rollback` undoes it."
        )
        return
    try:
        dropped = _drop_leftovers(conn, report, failed)
        if not _left_partial(conn, failed):
            _forget_unstarted(conn, failed)
            if failed.mode == "per-statement" and report.error:  # the DIRTY wording no longer holds
                report.error.state = (
                    f"Unchanged for {failed.version}_{failed.name}: its first statement failed, "
                    "nothing of it was committed"
                    + (f", and the INVALID index {dropped} it left was dropped" if dropped else "")
                    + "; it is pending again."
                )
                report.error.next_step = "Fix the migration (or the data it trips on) and run the command again."
            if undo_completed():
                undone = any(r.status == "rolled-back" for r in report.migrations)
                report.failure_recovery = "down-scripts" if undone else "transaction-rollback"
                return
        if backup is None:
            report.failure_recovery = "not-recovered"
            report.message += (
                "\nautoOnFailure: the database could not be returned to its state before the command "
                "and there is no pre-apply backup (autoBackup is off). Run `db-migrate status`."
            )
            return
        _restore(conn, report, backup, failed)
    except MigrationError as exc:
        report.failure_recovery = "not-recovered"
        report.message += f"\nautoOnFailure could not finish: {exc.message} Database state: {exc.state}"
    except Exception as exc:  # noqa: BLE001 - e.g. the connection is gone: say so, never crash
        report.failure_recovery = "not-recovered"
        report.message += f"\nautoOnFailure could not finish ({type(exc).__name__}). Run `db-migrate status`."


def _drop_leftovers(conn: Connection, report: RunReport, failed: MigrationRun) -> str:
    """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: the state before the command has none."""
    dropped = []
    for statement in failed.statements:
        for index in list(statement.leftovers):
            conn.engine.execute(conn.engine.drop_invalid_index_sql(index))
            statement.leftovers.remove(index)
            dropped.append(index)
            report.message += f"\nautoOnFailure: dropped the INVALID index {index} the failed statement left behind."
    return ", ".join(dropped)


def _left_partial(conn: Connection, failed: MigrationRun) -> bool:
    """True when the failed migration changed something that no transaction took back."""
    if failed.mode == "python":
        return not conn.engine.caps.transactional_ddl
    return failed.mode == "per-statement" and any(s.status == "done" for s in failed.statements)


def _forget_unstarted(conn: Connection, failed: MigrationRun) -> None:
    """A per-statement run that failed at its first statement left only its dirty history row."""
    if failed.mode == "per-statement":
        row = conn.history.rows().get(failed.version)
        if row is not None and row.dirty and row.statements_done == 0:
            conn.history.delete(failed.version)


def _restore(conn: Connection, report: RunReport, backup: Manifest, failed: MigrationRun) -> None:
    restore_backup(conn, backup)
    for run in report.migrations:
        if run.status == "applied":
            run.status = "rolled-back"
    report.failure_recovery = "backup-restore"
    conn.history.log(
        failed.version,
        failed.name,
        "restore",
        "ok",
        author=conn.project.author(),
        detail=f"autoOnFailure: restored pre-apply backup {backup.id}",
    )
    report.message += (
        f"\nautoOnFailure: restored the pre-apply backup {backup.id}; the database is exactly as it "
        "was before this command."
    )
    if report.error:  # nothing is dirty any more: the resolve --retry advice of a half-applied run no longer holds
        report.error.state = f"Restored from backup {backup.id}: exactly as before this command."
        report.error.next_step = (
            f"Fix {failed.version}_{failed.name} (or the data it trips on); it is pending "
            "again, so run the command again."
        )
