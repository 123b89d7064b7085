"""Typed errors: each carries what happened, the state the database is in, and what to do next.

Surfaces render them (CLI: a short paragraph and a non-zero exit; MCP: a tool error).
Messages must never contain a password: build them from redacted URLs only.
"""

from __future__ import annotations


class MigrationError(Exception):
    """Base of every error a user can act on (no traceback is shown for these)."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, state: str = "", next_step: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.next_step = next_step

    def explain(self) -> str:
        parts = [self.message]
        if self.state:
            parts.append(f"Database state: {self.state}")
        if self.next_step:
            parts.append(f"Next step: {self.next_step}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, str | int]:
        return {
            "error": self.kind,
            "message": self.message,
            "state": self.state,
            "next_step": self.next_step,
            "exit_code": self.exit_code,
        }


class ConfigError(MigrationError):
    kind = "config_error"
    exit_code = 2

    def __init__(self, message: str, *, state: str = "", next_step: str = "") -> None:
        super().__init__(message, state=state or "Nothing was run: no database was contacted.", next_step=next_step)


class ConnectionFailed(MigrationError):
    kind = "connection_failed"
    exit_code = 3


class ConnectionLost(MigrationError):
    """The server went away (or killed our session) in the middle of a run."""

    kind = "connection_lost"
    exit_code = 3


class CopyFailed(MigrationError):
    """A scratch copy for `db-migrate test` could not be made (client tool missing, no privilege, dump error)."""

    kind = "copy_failed"
    exit_code = 13


class MigrationFileError(MigrationError):
    """A migration file cannot be read, parsed or is inconsistent (duplicate version, missing DOWN...)."""

    kind = "migration_file_error"
    exit_code = 4


class HistoryConflict(MigrationError):
    """Disk and history disagree: edited applied file, applied file missing, out-of-order pending."""

    kind = "history_conflict"
    exit_code = 5


class DirtyState(MigrationError):
    """A previous run stopped part-way through a migration; nothing runs until it is resolved."""

    kind = "dirty"
    exit_code = 6


class LockTimeout(MigrationError):
    kind = "lock_timeout"
    exit_code = 7


class ApprovalRequired(MigrationError):
    kind = "approval_required"
    exit_code = 8


class StatementFailed(MigrationError):
    """A statement of a migration failed while applying or rolling back."""

    kind = "statement_failed"
    exit_code = 9
    lock_timeout = False  # the statement gave up waiting for a table lock: safe to retry


class Cancelled(MigrationError):
    """The surface that started the run asked it to stop (an MCP client cancelled its request)."""

    kind = "cancelled"
    exit_code = 130


class RollbackUnavailable(MigrationError):
    kind = "rollback_unavailable"
    exit_code = 10


class BackupFailed(MigrationError):
    """A backup could not be taken (client tool missing, disk full, unwritable backupDir, dump error)."""

    kind = "backup_failed"
    exit_code = 11


class RestoreFailed(MigrationError):
    """A restore was refused (unknown backup, checksum mismatch, no WAL archive) or did not complete."""

    kind = "restore_failed"
    exit_code = 12
