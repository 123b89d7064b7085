"""The backup apply and rollback take before they change anything (autoBackup), which rollback.autoOnFailure
restores as a last resort: apply runs its dump beside the checks (`backup_beside_checks`), rollback takes it after
its gate (`backup_before_change`); only the tables the scripts touch when that is provably all (`touched_tables`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from ..backup import Dump, module_for
from ..backup.manifest import Manifest
from ..backup.tools import StartedDump
from ..errors import BackupFailed
from .backups import NewBackup, take_backup
from .context import Connection, Progress

# The dump starts beside the checks only for a database under this size: its dump takes about as long as the
# checks, which is what the overlap saves. A larger one's dump takes far longer than the checks (the most starting
# early can save), and a plan that then stops for approval would have loaded the server with a dump it throws
# away: it starts after the gate, as rollback's does.
BESIDE_CHECKS_MAX_BYTES = 256 << 20


def backup_before_change(conn: Connection, report, scripts: list, progress: Progress | None) -> Manifest | None:
    """rollback: back up after the approval gate, before anything changes (autoBackup; apply starts its backup
    beside its checks instead: backup_beside_checks).

    Raises BackupFailed (tool missing, disk full, unwritable backupDir): the command stops with
    nothing changed. Only the tables the scripts touch are backed up when the analysis proves
    they touch nothing else; otherwise the whole database."""
    if not conn.project.settings.autoBackup:
        return None
    manifest = take_backup(
        conn,
        reason=report.action,
        version_before=report.version_before,
        version_after=report.version_after,
        tables=touched_tables(conn, scripts),
        progress=progress,
    )
    report.backup_id = manifest.id
    return manifest


@contextmanager
def backup_beside_checks(conn: Connection, scripts: list, *, start: bool) -> Iterator[PreChangeBackup]:
    """apply: the pre-change backup (autoBackup) starts as soon as the plan is known (`start`: there is something
    to run, not a dry run; and the database is small) and its dump runs in its own process while the checks run;
    `finish()` waits for it just before the first statement (or takes it then, when it did not start here). A plan
    that stops before that (nothing to do, refused, approval, an exception, Ctrl-C) kills the dump and discards its
    folder: no half backup is ever listed."""
    backup = PreChangeBackup(conn, scripts)
    if start and conn.project.settings.autoBackup:
        backup.start(beside_checks=True)
    try:
        yield backup
    finally:
        backup.cancel()


class PreChangeBackup:
    """The backup apply takes before any change. Only the tables the scripts touch are backed up when the
    analysis proves they touch nothing else (touched_tables); otherwise the whole database.

    A failure to start it (tool missing, disk full, unwritable backupDir) is kept and raised by `finish()`, after
    the checks and the gate, so that the errors the checks find are reported first. `finish()` raises BackupFailed
    (that, or the dump failed): the command stops with nothing changed."""

    def __init__(self, conn: Connection, scripts: list) -> None:
        self.conn = conn
        self.scripts = scripts
        self.new: NewBackup | None = None
        self.running: StartedDump | None = None
        self.dump: Dump | None = None
        self.refused: BackupFailed | None = None
        self.manifest: Manifest | None = None

    @cached_property
    def size_bytes(self) -> int:
        """Asked once: it decides whether the dump may run beside the checks, and the disk needs that much room."""
        return module_for(self.conn.engine.dialect).size(self.conn.engine)

    def start(self, *, beside_checks: bool = False) -> None:
        """Start the dump; `beside_checks`: only for a database under BESIDE_CHECKS_MAX_BYTES (finish() starts a
        larger one)."""
        if beside_checks and self.size_bytes >= BESIDE_CHECKS_MAX_BYTES:
            return
        engine = self.conn.engine
        module = module_for(engine.dialect)
        try:
            self.new = NewBackup.prepare(self.conn, touched_tables(self.conn, self.scripts), self.size_bytes)
            with self.new.discarded_on_failure():
                dumped = self.new.dumped_tables()
                if hasattr(module, "dump_command"):  # a client tool: it runs beside the checks
                    self.running = StartedDump(module.dump_command(engine, self.new.folder, dumped), engine.url)
                else:  # SQLite's online backup API works through the engine's own connection: now, in full
                    self.dump = module.backup(engine, self.new.folder, dumped)
        except BackupFailed as exc:
            self.new, self.refused = None, exc

    def finish(self, report, progress: Progress | None) -> Manifest | None:
        """Wait for the dump and write its manifest (None with autoBackup off); sets report.backup_id."""
        if self.new is None and self.refused is None and self.conn.project.settings.autoBackup:
            self.start()  # not started beside the checks (a large database, or a plan sure to stop for approval)
        if self.refused is not None:
            raise self.refused
        if self.new is None:
            return None
        self.new.announce(progress)
        with self.new.discarded_on_failure():
            dump = self.dump if self.dump is not None else self.running.wait()
            self.manifest = self.new.save(
                dump, reason=report.action, version_before=report.version_before, version_after=report.version_after
            )
        report.backup_id = self.manifest.id
        return self.manifest

    def cancel(self) -> None:
        """Stop the dump and discard its folder, unless finish() wrote the manifest."""
        if self.manifest is not None or self.new is None:
            return
        if self.running is not None:
            self.running.kill()
        self.new.store.discard(self.new.id)


def touched_tables(conn: Connection, scripts: list) -> list[str] | None:
    """The tables `scripts` change, plus the history tables; None unless that is provably all.

    A table an earlier statement of the plan creates counts as found (a plan that only creates tables and
    fills them backs up the history tables; the manifest lists the new tables, which a restore drops).
    Not provable (-> whole database): Python migrations, a statement analysis cannot read, another
    schema, a table (or the table of a dropped index) not found, or objects outside the set that depend on it (foreign keys into
    it, views, triggers), which a table-only restore would break or miss."""
    engine = conn.engine
    module = module_for(engine.dialect)
    if not module.TABLE_SCOPE:
        return None
    from ..analysis.operations import script_operations

    existing = set(engine.tables())
    tables = {conn.history.table, conn.history.log_table}
    created: set[str] = set()  # by an earlier statement of the plan: nothing of it to back up yet
    for script in scripts:
        if script.is_python:
            return None
        for op in script_operations(script.statements, engine.dialect):
            if op.session_only:
                continue
            if hasattr(module, "index_table"):
                op = op.located(lambda index: module.index_table(engine, index))
            if op.unread or op.table is None or op.schema_name is not None:
                return None
            new = op.new_table(created)
            if op.table not in existing and op.table not in created and op.table != new:
                return None
            if new:
                created.add(new)
            tables.update(op.tables())
    present = sorted(t for t in tables if t in existing)
    return None if present and module.outside_dependents(engine, present) else sorted(tables)
