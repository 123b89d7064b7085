"""Which line of history a migration file was written on, from git.

Two migrations were written on different branches when neither commit that added them contains the
other: each author wrote theirs without seeing the other's. Outside a git checkout, for a file not
committed yet, or when git is missing, nothing is known and nothing is claimed.
"""

from __future__ import annotations

import subprocess
from functools import cached_property
from pathlib import Path

GIT_TIMEOUT_S = 10


class Lineage:
    """The commits that added the files of one migrations folder, and their ancestry."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._relatives: dict[str, set[str]] = {}

    @cached_property
    def added(self) -> dict[str, str]:
        """File name -> the newest commit that added it (one `git log` for the whole folder)."""
        out = _git(
            self.folder,
            "log",
            "--diff-filter=A",
            "--no-renames",
            "--format=%x00%H",
            "--name-only",
            "--relative",
            "--",
            ".",
        )
        found: dict[str, str] = {}
        commit = ""
        for line in (out or "").splitlines():
            if line.startswith("\0"):
                commit = line[1:]
            elif line.strip():
                found.setdefault(Path(line).name, commit)
        return found

    def commit_of(self, path: Path) -> str | None:
        return self.added.get(path.name)

    def relatives(self, commit: str) -> set[str]:
        """The commits on one line of history with `commit`: those it contains and those (up to HEAD)
        that contain it. Two `git rev-list` calls, once per commit asked about."""
        if commit not in self._relatives:
            before = _git(self.folder, "rev-list", commit) or ""
            after = _git(self.folder, "rev-list", "--ancestry-path", f"{commit}..HEAD") or ""
            self._relatives[commit] = set(before.split()) | set(after.split())
        return self._relatives[commit]

    def parallel(self, mine: Path, other: Path) -> tuple[str, str] | None:
        """The two adding commits when the files were written on different branches, else None."""
        a, b = self.commit_of(mine), self.commit_of(other)
        if not a or not b or b in self.relatives(a):
            return None
        return a, b


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
