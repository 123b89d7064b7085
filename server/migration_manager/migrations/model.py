"""What a migration is once read from disk, whatever format it came in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Script:
    """One direction (up or down) of a migration.

    SQL scripts carry their statements, already split for the target dialect, with
    transaction-control statements (BEGIN/COMMIT written in the file) removed: the runner
    owns the transaction. Python scripts carry `source` and no statements (known at run time).
    """

    statements: tuple[str, ...] = ()
    source: str = ""  # the raw text of this direction (SQL or Python)
    python_callable: str | None = None  # "up" / "down" for Python migrations
    no_transaction: bool = False  # declared by the file (goose NO TRANSACTION, -- no-transaction)

    @property
    def is_python(self) -> bool:
        return self.python_callable is not None

    @property
    def is_empty(self) -> bool:
        return not self.statements and not self.is_python


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    format: str  # native | dbmate | goose | golang-migrate | flyway | python
    up: Script
    down: Script | None  # None: no DOWN written; rollback is not possible from the file
    checksum: str  # "v1:<sha256>" of the normalized UP (comments and whitespace out)
    author: str | None = None
    strategy: str | None = None
    down_path: Path | None = None  # separate DOWN file (golang-migrate, Flyway U...)
    extra_paths: tuple[Path, ...] = field(default=())
    irreversible: str | None = None  # the DOWN says it cannot undo the UP (`-- irreversible: why`); "" = no reason

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"

    @property
    def can_roll_back(self) -> bool:
        """A DOWN to run, or an UP without statements (its DOWN may be empty: nothing to undo)."""
        return self.down is not None and (not self.down.is_empty or self.up.is_empty) and self.irreversible is None
