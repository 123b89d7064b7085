"""Running the databases' own client tools (pg_dump, mariadb-dump, ...) safely.

Passwords go through the environment (PGPASSWORD, MYSQL_PWD), never the command line (which
`ps` shows to every user) and never the output; error text from a tool is redacted too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import BackupFailed
from ..urls import DatabaseURL, redact


def find_tool(names: Sequence[str], *, purpose: str, install: str) -> str:
    """The first of `names` on PATH, or a BackupFailed that says what to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupFailed(
        f"{' / '.join(names)} is not installed (or not on PATH); it is needed to {purpose}.",
        state="Nothing was changed.",
        next_step=f"Install it ({install}) and run the command again. "
        "To migrate without a backup (not recommended), set autoBackup: false.",
    )


def tool_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return Path(path).name
    return (out.stdout.strip().splitlines() or [Path(path).name])[0]


def shown(argv: Sequence[str]) -> str:
    """The command as recorded in the manifest: the tool's name, not its full path."""
    return shlex.join([Path(argv[0]).name, *argv[1:]])


def run_tool(
    argv: Sequence[str], url: DatabaseURL, *, env: dict[str, str], what: str, state: str, stdin=None, stdout=None
) -> None:
    """Run a client tool; a non-zero exit becomes a BackupFailed carrying its (redacted) stderr."""
    try:
        done = subprocess.run(
            list(argv),
            env=os.environ | env,
            stdin=stdin,
            stdout=stdout or subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    except OSError as exc:
        raise failure(what, str(exc), url, state) from None
    if done.returncode != 0:
        raise failure(what, done.stderr.decode(errors="replace"), url, state)


def failure(what: str, detail: str, url: DatabaseURL, state: str) -> BackupFailed:
    text = redact(" ".join(detail.split()))[-1500:]
    if url.password:
        text = text.replace(url.password, "***")
    hint = (
        "Free some space (or point backupDir elsewhere) and run the command again."
        if "No space left" in text
        else "Fix the cause shown above and run the command again."
    )
    return BackupFailed(f"Could not {what}: {text or 'the tool failed without a message'}", state=state, next_step=hint)


def pipe_tools(
    producer: Sequence[str], consumer: Sequence[str], url: DatabaseURL, *, env: dict[str, str], what: str, state: str
) -> None:
    """producer | consumer (e.g. pg_restore -f - | psql -1): fails if either side fails."""
    full_env = os.environ | env
    try:
        first = subprocess.Popen(list(producer), env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        second = subprocess.Popen(
            list(consumer), env=full_env, stdin=first.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise failure(what, str(exc), url, state) from None
    first.stdout.close()  # the consumer owns the pipe now: a consumer exit stops the producer
    _, second_err = second.communicate()
    first_err = first.stderr.read()
    first.wait()
    if second.returncode != 0 or first.returncode != 0:
        detail = (second_err or first_err).decode(errors="replace")
        raise failure(what, detail, url, state)
