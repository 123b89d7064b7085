"""Where backups live: `<backupDir>/<id>/manifest.json` beside the dump, listed, verified, pruned.

Ids sort by time (`20260115T093000Z-production-3fa1`), so the newest backup of an environment
is the last one listed. Retention: a backup expires `rollback.keepBackups` days after it was
taken; `prune` deletes expired ones.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from ..errors import BackupFailed, RestoreFailed
from .manifest import MANIFEST_FILE, Manifest, sha256_of

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class BackupStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    # ---- writing -----------------------------------------------------------------------
    def new_id(self, environment: str, now: datetime) -> str:
        label = _UNSAFE.sub("-", environment).strip("-") or "db"
        return f"{now:%Y%m%dT%H%M%SZ}-{label}-{secrets.token_hex(2)}"

    def prepare(self, backup_id: str, needed_bytes: int) -> Path:
        """The (new, empty) folder for one backup; refuses an unwritable or too full backupDir."""
        folder = self.root / backup_id
        try:
            folder.mkdir(parents=True)
            probe = folder / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise BackupFailed(
                f"The backup folder {self.root} is not writable: {exc.strerror or exc}.",
                state="Nothing was changed.",
                next_step="Fix its permissions, or set backupDir to a writable folder in the configuration.",
            ) from None
        free = shutil.disk_usage(folder).free
        if needed_bytes > free:
            shutil.rmtree(folder, ignore_errors=True)
            raise BackupFailed(
                f"Not enough disk space for the backup in {self.root}: about {_mb(needed_bytes)} needed, "
                f"{_mb(free)} free.",
                state="Nothing was changed.",
                next_step="Free some space, prune old backups (`db-migrate backup prune`), or set backupDir "
                "to a larger disk.",
            )
        return folder

    def save(self, manifest: Manifest) -> None:
        (self.root / manifest.id / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2))

    def discard(self, backup_id: str) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)

    # ---- reading -----------------------------------------------------------------------
    def list(self, environment: str | None = None) -> list[Manifest]:
        """Every readable manifest, oldest first (optionally of one environment)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob(f"*/{MANIFEST_FILE}")):
            try:
                manifest = Manifest.model_validate_json(path.read_text())
            except (OSError, ValidationError, ValueError):
                continue  # a half-written backup (process killed) has no valid manifest: not a backup
            if environment is None or manifest.environment == environment:
                found.append(manifest)
        return sorted(found, key=lambda m: m.created_at)

    def get(self, backup_id: str) -> Manifest:
        if not _UNSAFE.sub("", backup_id) == backup_id or backup_id in (".", ".."):
            raise RestoreFailed(
                f"'{backup_id}' is not a backup id.",
                state="Nothing was changed.",
                next_step="`db-migrate backup list` shows the ids.",
            )
        path = self.root / backup_id / MANIFEST_FILE
        try:
            return Manifest.model_validate_json(path.read_text())
        except (OSError, ValidationError, ValueError):
            raise RestoreFailed(
                f"No backup '{backup_id}' in {self.root}.",
                state="Nothing was changed.",
                next_step="`db-migrate backup list` shows the backups there are.",
            ) from None

    def latest(self, environment: str) -> Manifest:
        found = self.list(environment)
        if not found:
            raise RestoreFailed(
                f"There is no backup of '{environment}' in {self.root}.",
                state="Nothing was changed.",
                next_step="Take one with `db-migrate backup create`.",
            )
        return found[-1]

    def artifact(self, manifest: Manifest) -> Path:
        return self.root / manifest.id / manifest.file

    def verify(self, manifest: Manifest) -> None:
        """Refuse a backup whose file changed since it was written (truncated copy, tampering, bit rot)."""
        path = self.artifact(manifest)
        actual = sha256_of(path) if path.exists() else "(file missing)"
        if actual != manifest.sha256:
            raise RestoreFailed(
                f"Backup {manifest.id} does not match its manifest: sha256 {actual[:16]}… instead of "
                f"{manifest.sha256[:16]}…. It was modified or damaged after it was written.",
                state="Nothing was changed: the damaged backup was not used.",
                next_step="Restore another backup (`db-migrate backup list`).",
            )

    # ---- retention ---------------------------------------------------------------------
    def prune(self, now: datetime | None = None) -> list[Manifest]:
        """Delete every backup past its expires_at; return what was deleted."""
        now = now or datetime.now(UTC)
        expired = [m for m in self.list() if m.expires_at <= now]
        for manifest in expired:
            self.discard(manifest.id)
        return expired


def expiry(created_at: datetime, keep_days: int) -> datetime:
    return created_at + timedelta(days=keep_days)


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _mb(size: int) -> str:
    return f"{size / 1_048_576:,.0f} MB"
