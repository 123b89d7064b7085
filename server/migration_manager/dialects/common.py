"""Small pieces the engine modules share (no dialect logic here)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ..errors import ConnectionFailed, LockTimeout
from ..urls import DatabaseURL, redact
from .base import Dialect

LOCK_POLL_SECONDS = 0.2


class EngineDefaults:
    """What an engine does where its database has nothing of its own to say (an engine class overrides the rest)."""

    caps: Dialect

    def is_lock_timeout(self, exc: BaseException) -> bool:
        return self.caps.is_lock_timeout(exc)

    def needs_autocommit(self, statement: str) -> bool:
        return False

    def invalid_indexes(self) -> set[str]:
        return set()  # an index build either completes or leaves nothing

    def index_named_by(self, statement: str) -> str | None:
        return None

    def drop_invalid_index_sql(self, index: str) -> str:
        return f"DROP INDEX {index};"


def connection_failed(url: DatabaseURL, exc: Exception, hint: str) -> ConnectionFailed:
    detail = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if url.password:
        detail = detail.replace(url.password, "***")
    return ConnectionFailed(
        f"Cannot connect to {url.redacted}: {detail}",
        state="Nothing was changed: no connection was made.",
        next_step=hint,
    )


def lock_key(name: str) -> int:
    """A stable signed 63-bit key for PostgreSQL's advisory lock, derived from the lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def poll_lock(
    try_once: Callable[[], bool],
    name: str,
    timeout_s: float,
    where: str,
    holder: Callable[[], str | None] | None = None,
) -> None:
    """Poll a non-blocking try-lock until it succeeds or time runs out.

    Polling (not a blocking wait) is deliberate: a session blocked on an advisory lock
    deadlocks with CREATE INDEX CONCURRENTLY run by the holder (Flyway #1654).
    """
    deadline = time.monotonic() + timeout_s
    while not try_once():
        if time.monotonic() >= deadline:
            who = _describe(holder)
            raise LockTimeout(
                f"Another migration run holds the migration lock '{name}' on {where}{who}; waited {timeout_s:g}s.",
                state="Nothing was changed by this run. The other run is still working (or its session is still open: "
                "a killed process's last statement runs on the server until it ends, and holds the lock until then).",
                next_step="Wait for it to finish and run the command again, or raise --lock-timeout. "
                "The lock is session-level: it is released when the other process exits.",
            )
        time.sleep(LOCK_POLL_SECONDS)


def _describe(holder: Callable[[], str | None] | None) -> str:
    if holder is None:
        return ""
    try:
        found = holder()
    except Exception:  # noqa: BLE001 - only decoration for the message
        return ""
    return f" (held by {found})" if found else ""
