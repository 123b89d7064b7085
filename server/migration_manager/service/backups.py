"""Backups and restores: `backup create|list|prune`, `restore`, point in time; `take_backup` and `NewBackup` are
also how apply and rollback take their pre-change backup (pre_change_backup.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ..backup import Dump, module_for, restore_mark
from ..backup.manifest import Manifest, sha256_of, size_of
from ..backup.store import BackupStore, expiry
from ..config import Target
from ..errors import BackupFailed, ConfigError, RestoreFailed
from ..history import EVENT_COLUMNS, utcnow
from ..migrations.formats import version_key
from ..reports import BackupReport, RestoreReport
from ..requests import BackupRequest, RestoreRequest
from ..urls import parse_url, redact
from .context import Connection, Progress, ProgressEvent, Project, connect, open_project
from .safety import stop_for_approval, stop_for_environment_approval


# ---- backup create / list / prune ----------------------------------------------------------
def backup(request: BackupRequest, progress: Progress | None = None) -> BackupReport:
    project = open_project(request)
    store = store_of(project)
    report = BackupReport(action=request.action, environment=project.target.name, backup_dir=str(store.root))
    if request.action == "list":
        report.backups = store.list(None if request.all_environments else project.target.name)
        report.message = f"{len(report.backups)} backup(s) in {store.root}."
    elif request.action == "prune":
        _prune(project, store, request, report)
    else:
        with connect(project, lock=True) as conn:  # under the lock: no migration runs half-way through it
            refuse_partly_restored(conn)  # a backup of half a database would look like a good one
            current = current_version(conn)
            report.backups = [
                take_backup(conn, reason="manual", version_before=current, version_after=current, progress=progress)
            ]
        report.message = f"Backup {report.backups[0].id} written ({report.backups[0].size_bytes:,} bytes)."
    return report


def _prune(project: Project, store: BackupStore, request: BackupRequest, report: BackupReport) -> None:
    """Expired backups, and archive tables of destroyed data never restored, go after keepBackups days. Dropping
    archives writes history events, so prune passes the gate of every history write (maintenance window,
    requireApproval) before it deletes anything."""
    from .archive import prune_archives

    keep_days = project.settings.rollback.keepBackups
    with connect(project, lock=True) as conn:  # under the lock: never an archive a running rollback reads
        report.plan_id = hashlib.sha256(f"{project.target.name}|prune|{keep_days}".encode()).hexdigest()[:16]
        if stop_for_environment_approval(
            conn,
            report,
            request,
            "Approval needed to delete the backups and archive "
            f"tables older than rollback.keepBackups = {keep_days} day(s).",
        ):
            return
        report.backups = store.prune()
        report.archives_dropped = prune_archives(conn, keep_days)
    report.message = f"Deleted {len(report.backups)} backup(s) older than rollback.keepBackups = {keep_days} day(s)."
    if report.archives_dropped:
        report.message += f" Dropped {len(report.archives_dropped)} archive table(s) older than that."


def store_of(project: Project) -> BackupStore:
    root = Path(project.settings.backupDir)
    return BackupStore(root if root.is_absolute() else project.dir / root)


def take_backup(
    conn: Connection,
    *,
    reason: str,
    version_before: str | None,
    version_after: str | None,
    tables: list[str] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Back up the target (whole, or only `tables`) and write its manifest. Raises BackupFailed."""
    new = NewBackup.prepare(conn, tables, module_for(conn.engine.dialect).size(conn.engine))
    new.announce(progress)
    with new.discarded_on_failure():
        dump = module_for(conn.engine.dialect).backup(conn.engine, new.folder, new.dumped_tables())
        return new.save(dump, reason=reason, version_before=version_before, version_after=version_after)


@dataclass
class NewBackup:
    """A backup's folder, made and checked for space, before its dump is written into it."""

    conn: Connection
    store: BackupStore
    id: str
    folder: Path
    created_at: datetime
    tables: list[str] | None  # the scope: None for the whole database

    @classmethod
    def prepare(cls, conn: Connection, tables: list[str] | None, size_bytes: int) -> NewBackup:
        """`size_bytes`: the database's size, the room the folder needs. Raises BackupFailed (unwritable
        backupDir, not enough space)."""
        module = module_for(conn.engine.dialect)
        store, created_at = store_of(conn.project), utcnow()
        backup_id = store.new_id(conn.project.target.name, created_at)
        folder = store.prepare(backup_id, needed_bytes=size_bytes)
        return cls(conn, store, backup_id, folder, created_at, tables if module.TABLE_SCOPE else None)

    def announce(self, progress: Progress | None) -> None:
        if progress:
            where = self.conn.project.target.display_url
            progress(ProgressEvent(phase="backup", message=f"Backing up {where} ({self.id})"))

    def dumped_tables(self) -> list[str] | None:
        # Tables the migration will create are listed in the manifest (a restore drops them) but
        # cannot be dumped yet.
        if self.tables is None:
            return None
        existing = set(self.conn.engine.tables())
        return [t for t in self.tables if t in existing]

    @contextmanager
    def discarded_on_failure(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:  # disk full or folder gone while writing
            self.store.discard(self.id)
            raise BackupFailed(
                f"Could not write the backup to {self.store.root}: {exc.strerror or exc}.",
                state="Nothing was changed.",
                next_step="Free some space or set backupDir to a writable, larger disk.",
            ) from None
        except BaseException:
            self.store.discard(self.id)  # never leave a half-written backup that looks usable
            raise

    def save(self, dump: Dump, *, reason: str, version_before: str | None, version_after: str | None) -> Manifest:
        """The manifest, written last: a folder without one is not listed as a backup."""
        project, engine = self.conn.project, self.conn.engine
        path = self.folder / dump.file
        manifest = Manifest(
            id=self.id,
            environment=project.target.name,
            database=project.target.display_url,
            dialect=engine.dialect,
            server_version=engine.server_version(),
            version_before=version_before,
            version_after=version_after,
            reason=reason,
            tool=dump.tool,
            command=redact(dump.command),
            format=dump.format,
            scope="tables" if self.tables is not None else "whole",
            tables=self.tables or [],
            file=dump.file,
            size_bytes=size_of(path),
            sha256=sha256_of(path),
            created_at=self.created_at,
            expires_at=expiry(self.created_at, project.settings.rollback.keepBackups),
        )
        self.store.save(manifest)
        return manifest


# ---- restore -------------------------------------------------------------------------------
def restore(request: RestoreRequest, progress: Progress | None = None) -> RestoreReport:
    project = open_project(request)
    if request.timestamp:
        return point_in_time(project, request)
    store = store_of(project)
    manifest = store.get(request.backup_id) if request.backup_id else store.latest(project.target.name)
    store.verify(manifest)  # before anything else: a damaged backup is never used
    into = request.into_url is not None
    target = _into_target(request.into_url) if into else project.target
    if parse_url(target.url).kind != manifest.dialect:
        raise RestoreFailed(
            f"Backup {manifest.id} is a {manifest.dialect} backup; {target.display_url} is not.",
            state="Nothing was changed.",
            next_step="Restore it into a database of the same kind.",
        )
    with connect(replace(project, target=target), lock=not request.dry_run) as conn:
        report = _restore_plan(conn, manifest, into, request)
        if report.outcome != "done":
            return report
        started = time.monotonic()
        if progress:
            progress(ProgressEvent(phase="backup", message=f"Restoring {manifest.id} into {target.display_url}"))
        restore_backup(conn, manifest, into_empty=into)
        report.duration_ms = int((time.monotonic() - started) * 1000)
        report.version_after = current_version(conn)
        report.message = (
            f"Restored backup {manifest.id} (taken {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC at "
            f"version {manifest.version_before or '(none)'}) into {target.display_url}."
        )
        if not into:
            _log(conn, manifest, "restore", "ok", f"restored backup {manifest.id}")
        return report


def _restore_plan(conn: Connection, manifest: Manifest, into: bool, request: RestoreRequest) -> RestoreReport:
    target = conn.project.target
    digest = hashlib.sha256(f"{target.name}|restore|{manifest.id}|{manifest.sha256}|{into}".encode()).hexdigest()
    report = RestoreReport(
        environment=target.name,
        database=target.display_url,
        plan_id=digest[:16],
        outcome="dry-run" if request.dry_run else "done",
        backup=manifest,
        checksum_verified=True,
        into=into,
        version_before=current_version(conn),
    )
    if into:
        if conn.engine.tables():
            raise RestoreFailed(
                f"{target.display_url} is not empty; --into only restores into an empty database.",
                state="Nothing was changed.",
                next_step="Create a new database (e.g. `createdb inspect_copy`) and pass its URL.",
            )
    else:
        what = "only the tables " + ", ".join(manifest.tables) if manifest.scope == "tables" else "everything"
        report.approval_reasons.append(
            f"restore replaces {what} in {target.display_url} with backup {manifest.id} taken "
            f"{manifest.created_at:%Y-%m-%d %H:%M:%S} UTC (version {manifest.version_before or '(none)'}): "
            "every change made since then is lost"
        )
        if target.require_approval:
            report.approval_reasons.append(f"environment '{target.name}' requires approval (requireApproval)")
    stop_for_approval(conn, report, request, window=not into)  # --into changes no environment
    return report


def restore_backup(conn: Connection, manifest: Manifest, *, into_empty: bool = False) -> None:
    """Put a verified backup back. The event log keeps what happened since (it is never rewritten).

    A restore that is not one transaction (MariaDB) is marked in the database before anything is dropped
    and unmarked once complete: killed part-way, every command says PARTLY RESTORED until one completes."""
    store = store_of(conn.project)
    store.verify(manifest)
    module = module_for(manifest.dialect)
    kept = [] if into_empty else _events_to_keep(conn, manifest.created_at)
    marked = not into_empty and not module.ATOMIC_RESTORE
    if marked:
        restore_mark.write(
            conn.engine,
            restore_mark.RestoreMark(manifest.id, utcnow().isoformat(timespec="seconds"), conn.project.author(), kept),
        )
    module.restore(conn.engine, store.artifact(manifest), manifest, into_empty=into_empty)
    if kept:
        conn.history.ensure()
        placeholders = ", ".join([conn.engine.param] * len(EVENT_COLUMNS))
        for row in kept:
            conn.engine.execute(
                f"INSERT INTO {conn.history.log_table} ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})", list(row)
            )
    if marked:
        restore_mark.clear(conn.engine)


def _events_to_keep(conn: Connection, moment: datetime) -> list[list]:
    """The event-log rows written since the backup; after a killed restore, those its mark kept (the log
    itself is now whatever the killed restore dropped or reloaded)."""
    earlier = restore_mark.read(conn.engine)
    if earlier is not None:
        return earlier.events
    if not conn.history.engine.table_exists(conn.history.log_table):
        return []
    return [
        list(row)
        for row in conn.engine.query(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM {conn.history.log_table} "
            f"WHERE at >= {conn.engine.param} ORDER BY id",
            [moment],
        )
    ]


def unfinished_restore(conn: Connection, holder: str | None = None) -> RestoreFailed | None:
    """PARTLY RESTORED: a restore into this database started and did not complete (None: there is none).
    `holder`: who holds the migration lock, i.e. the restore is still running."""
    mark = restore_mark.read(conn.engine)
    if mark is None:
        return None
    started = (
        f"The restore of backup {mark.backup_id} into {conn.project.target.display_url} started at "
        f"{mark.started_at} UTC by {mark.started_by}"
    )
    if holder:
        return RestoreFailed(
            f"{started} and is running now (the migration lock is held by {holder}).",
            state="PARTLY RESTORED until it completes: tables are being dropped and reloaded.",
            next_step="Wait for it, then run `db-migrate status` again.",
        )
    return RestoreFailed(
        f"{started} and did not complete (its process was killed or lost its connection).",
        state="PARTLY RESTORED: every table the backup covers was dropped and only part of the dump was loaded "
        "again (MariaDB cannot restore in one transaction), so the tables and the history shown are incomplete. "
        "The backup file is intact.",
        next_step=f"Run `db-migrate restore {mark.backup_id}` again: it loads the whole backup. Until it completes, "
        "apply, rollback, resolve, baseline, test and backup create refuse to run.",
    )


def refuse_partly_restored(conn: Connection) -> None:
    error = unfinished_restore(conn)
    if error is not None:
        raise error


def _log(conn: Connection, manifest: Manifest, action: str, outcome: str, detail: str) -> None:
    if not conn.engine.table_exists(conn.history.log_table):
        return  # the backup predates the history tables: the restore must not add them
    conn.history.log(manifest.version_before or "-", None, action, outcome, author=conn.project.author(), detail=detail)


def _into_target(url: str) -> Target:
    parse_url(url)  # a malformed URL fails here, redacted
    return Target(name="(into)", url=url)


# ---- point in time -------------------------------------------------------------------------
def point_in_time(project: Project, request: RestoreRequest) -> RestoreReport:
    moment = _moment(request.timestamp or "")
    with connect(project, lock=False) as conn:
        # The steps and what they need, or a RestoreFailed saying what the server lacks for one.
        steps, message = module_for(conn.engine.dialect).point_in_time(conn.engine, moment)
    return RestoreReport(
        environment=project.target.name,
        database=project.target.display_url,
        outcome="manual-steps",
        plan_id=hashlib.sha256(f"{project.target.name}|pitr|{moment.isoformat()}".encode()).hexdigest()[:16],
        steps=steps,
        message=message,
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"'{text}' is not a moment I can read.",
            state="Nothing was changed.",
            next_step="Write it like '2026-01-15 09:30:00' (UTC) or '2026-01-15T09:30:00+01:00'.",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def current_version(conn: Connection) -> str | None:
    """The newest applied version the history holds now (after apply, rollback, restore); None if unreadable."""
    try:
        rows = [r for r in conn.history.rows().values() if not r.dirty]
    except Exception:  # noqa: BLE001 - unreachable after a lost connection: unknown, not a crash
        return None
    return max(rows, key=lambda r: version_key(r.version)).version if rows else None
