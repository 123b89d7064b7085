"""Running the databases' own client tools (pg_dump, mariadb-dump, ...) safely.

Passwords go through the environment (PGPASSWORD, MYSQL_PWD), never the command line (which
`ps` shows to every user) and never the output; error text from a tool is redacted too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import BackupFailed
from ..urls import DatabaseURL, redact
from . import Dump, DumpCommand


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


def shown(argv: Sequence[str]) -> str:
    """The command as recorded in the manifest: the tool's name, not its full path."""
    return shlex.join([Path(argv[0]).name, *argv[1:]])


class StartedDump:
    """A dump tool running in the background (apply's checks run meanwhile), and its `--version` beside it for
    the manifest. `wait()` gives the Dump or raises the BackupFailed that running it in the foreground would;
    `kill()` stops both (a plan that stops before its first statement)."""

    def __init__(self, command: DumpCommand, url: DatabaseURL) -> None:
        self.command, self.url = command, url
        # stderr goes to a file, not a pipe: nobody reads it while the checks run, and a tool that wrote more
        # than a pipe holds (64 KiB of warnings) would stop there until it is read.
        self._stderr = tempfile.TemporaryFile()
        try:
            self._dump = subprocess.Popen(
                command.argv,
                env=os.environ | command.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
            )
        except OSError as exc:
            self._stderr.close()
            raise failure(command.what, str(exc), url, "Nothing was changed.") from None
        self._version = _start_version(command.argv[0])

    def wait(self) -> Dump:
        try:
            if self._dump.wait() != 0:
                self._stderr.seek(0)
                detail = self._stderr.read().decode(errors="replace")
                raise failure(self.command.what, detail, self.url, "Nothing was changed.")
            return Dump(self.command.file, self._version_text(), shown(self.command.argv), self.command.format)
        finally:
            self.kill()  # the version's process, when the dump failed or the wait was interrupted (Ctrl-C)

    def kill(self) -> None:
        for process in (self._dump, self._version):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        self._stderr.close()

    def _version_text(self) -> str:
        name = Path(self.command.argv[0]).name
        if self._version is None:
            return name
        try:
            out, _ = self._version.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            return name
        return (out.strip().splitlines() or [name])[0]


def _start_version(path: str) -> subprocess.Popen | None:
    try:
        return subprocess.Popen(
            [path, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    except OSError:
        return None  # the manifest then names the tool without its version


def run_dump(command: DumpCommand, url: DatabaseURL) -> Dump:
    """Run the dump in the foreground (`backup create`, rollback): the same command apply starts beside its checks."""
    return StartedDump(command, url).wait()


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
