"""Point-in-time restore: what it needs, and the exact steps when the server has it.

A logical dump (pg_dump) holds one moment. Reaching any other moment needs a physical base
backup taken before it plus every WAL segment since (PostgreSQL's continuous archiving,
https://www.postgresql.org/docs/current/continuous-archiving.html). This module checks the
server's settings and either explains precisely what is missing or lists the steps, with the
commands, that replay the archive into a NEW data directory (the running server is never touched).
"""

from __future__ import annotations

import re
from datetime import datetime

from ..errors import RestoreFailed

DOC = "skill_resources/backups-and-restore.md"
_CP_ARCHIVE = re.compile(r"^\s*(?:test ! -f \S+ && )?cp\s+(?:-\w+\s+)?%p\s+(?P<dir>\S+?)/%f\s*$")


def archiving_gaps(settings: dict[str, str]) -> list[str]:
    """What keeps this PostgreSQL server from a point-in-time restore (empty: WAL archiving is on)."""
    gaps = []
    if settings.get("wal_level") == "minimal":
        gaps.append("wal_level is 'minimal' (needs 'replica' or 'logical')")
    if settings.get("archive_mode", "off") == "off":
        gaps.append("archive_mode is 'off' (needs 'on', which takes a server restart)")
    command = settings.get("archive_command", "")
    if command in ("", "(disabled)") and not settings.get("archive_library"):
        gaps.append("neither archive_command nor archive_library is set, so no WAL segment is kept")
    return gaps


def refusal(settings: dict[str, str], server: str) -> RestoreFailed:
    gaps = archiving_gaps(settings)
    return RestoreFailed(
        f"Point-in-time restore is not possible on {server}: WAL archiving is not configured — "
        + "; ".join(gaps)
        + ". A pg_dump backup holds one moment only; reaching any other moment needs a base "
        "backup plus the WAL written since, and this server keeps no WAL archive.",
        state="Nothing was changed.",
        next_step="Either restore the nearest backup instead (`db-migrate backup list`, then `db-migrate restore "
        "ID`), or enable archiving for the future: in postgresql.conf set wal_level = replica, archive_mode = on, "
        "archive_command = 'test ! -f /var/lib/postgresql/wal-archive/%f && cp %p /var/lib/postgresql/wal-archive/%f' "
        "(or archive_library), restart the server, then take a base backup with `pg_basebackup -D <dir> -X none -c "
        f"fast`; every moment after that base backup becomes restorable. Managed services (RDS, Cloud SQL): see {DOC}.",
    )


def mysql_refusal(log_bin: str, server: str) -> RestoreFailed:
    return RestoreFailed(
        f"Point-in-time restore is implemented for PostgreSQL only; on {server} it needs binary logging "
        f"(log_bin is {log_bin} here) and a full backup from before that moment.",
        state="Nothing was changed.",
        next_step="With log_bin ON: restore the newest backup before the moment (`db-migrate restore ID --into URL`), "
        "then replay the binary logs from that backup's position up to the moment with `mariadb-binlog "
        f"--start-datetime=... --stop-datetime='T' binlog.0000* | mariadb`. See {DOC}.",
    )


def sqlite_refusal() -> RestoreFailed:
    return RestoreFailed(
        "SQLite keeps no change log, so no moment other than a backup's own can be restored.",
        state="Nothing was changed.",
        next_step="Restore the newest backup taken before that moment: `db-migrate backup list`, then "
        "`db-migrate restore ID`.",
    )


def steps(settings: dict[str, str], moment: datetime, port: int) -> list[str]:
    """The recovery, step by step, into a new data directory served on a spare port."""
    archive = _archive_dir(settings.get("archive_command", ""))
    restore_command = f"cp {archive}/%f %p" if archive else "<the inverse of your archive_command / archive_library>"
    new_dir = "/var/lib/postgresql/pitr-" + moment.strftime("%Y%m%dT%H%M%SZ")
    spare = port + 1
    return [
        f"Pick the newest physical base backup (pg_basebackup) taken BEFORE {moment.isoformat()}; a pg_dump backup "
        "cannot be replayed with WAL.",
        f"As the postgres OS user: mkdir -m 700 {new_dir} and extract the base backup into it "
        f"(tar -xf base.tar -C {new_dir}; pg_wal.tar into {new_dir}/pg_wal if it was taken with -X fetch/stream).",
        f"Append to {new_dir}/postgresql.auto.conf: restore_command = '{restore_command}', "
        f"recovery_target_time = '{moment.isoformat()}', recovery_target_action = 'promote', port = {spare}.",
        f"touch {new_dir}/recovery.signal",
        f"pg_ctl -D {new_dir} -l {new_dir}/recovery.log start   # replays WAL up to the moment, then promotes",
        f"Check it: psql -p {spare} -c 'SELECT pg_is_in_recovery()' says f, and the data is as of the moment.",
        f"Copy what you need back (pg_dump -p {spare} ... | pg_restore -d <target>), or switch the application "
        f"to port {spare}; then stop the instance with pg_ctl -D {new_dir} stop.",
    ]


def _archive_dir(command: str) -> str | None:
    match = _CP_ARCHIVE.match(command)
    return match["dir"] if match else None
