"""Helpers shared by the format readers: building Scripts and Migrations from SQL text."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ... import dialects
from ...errors import MigrationFileError
from ..model import Migration, Script
from ..sqltext import is_transaction_control, may_be_transaction_control, normalize, refused_transaction_control, split
from ..syntax import statement_lines

CHECKSUM_ALGORITHM = "v1"  # never change silently: a new algorithm gets a new prefix
_HEADER = re.compile(r"^\s*--\s*(author|strategy|timeout)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_NO_TRANSACTION = re.compile(r"^\s*--\s*(no-transaction|no_transaction)\s*$", re.IGNORECASE | re.MULTILINE)
UP_PLACEHOLDER = "-- Your SQL here"  # the UP of `db-migrate create`'s template (service/templates.py)
_VERSION_NAME = re.compile(r"^(?P<version>\d[\d.]*)_(?P<name>.+)$")


def sql_script(text: str, dialect: str, *, no_transaction: bool = False, path: Path | None = None) -> Script:
    """Split a direction's SQL into the script the runner will run (`runnable_script`)."""
    try:
        statements = split(text, dialect)
    except MigrationFileError as exc:
        raise MigrationFileError(f"{path}: {exc.message}", next_step="Fix the SQL in that file.") from None
    return runnable_script(statements, text, dialect, no_transaction=no_transaction, path=path)


def runnable_script(
    statements: list[str], source: str, dialect: str, *, no_transaction: bool, path: Path | None
) -> Script:
    """BEGIN/COMMIT written in the file are dropped (the runner owns the transaction); transaction control the
    runner cannot do as written (ROLLBACK, ...) refuses the file, naming the line: never run something else."""
    # Without transactional DDL (MariaDB/MySQL) each statement runs on its own: no transaction for a savepoint.
    one_transaction = not no_transaction and dialects.get(dialect).transactional_ddl
    kept = []
    for index, statement in enumerate(statements):
        if not may_be_transaction_control(statement):  # most statements: their first word says so (~3 us less)
            kept.append(statement)
            continue
        why = refused_transaction_control(statement, dialect, one_transaction=one_transaction)
        if why:
            _, line = statement_lines(Script(statements=tuple(statements), source=source), path)[index]
            where = f"{path.name if path else 'the recorded script'}{f' line {line}' if line else ''}"
            raise MigrationFileError(
                f"{where}: `{normalize(statement, dialect)[:80]}` {why}.",
                state="The file is refused as written: none of it ran.",
                next_step="Remove that statement (and any it was meant to undo): a migration is committed only when "
                "every statement succeeds, else rolled back (per statement on MariaDB/MySQL).",
            )
        if not is_transaction_control(statement, dialect):
            kept.append(statement)
    return Script(statements=tuple(kept), source=source, no_transaction=no_transaction)


def file_script(text: str, dialect: str, path: Path) -> Script:
    """One direction that is a file of its own (golang-migrate's .up.sql/.down.sql, Flyway's V/U files), with its
    own `-- no-transaction` line, as a native file's header says it for both of its sections."""
    return sql_script(text, dialect, no_transaction=bool(_NO_TRANSACTION.search(text)), path=path)


def checksum(script: Script, dialect: str) -> str:
    """sha256 of the normalized UP: comment or whitespace edits do not change it."""
    if script.is_python:
        body = "\n".join(line.rstrip() for line in script.source.splitlines() if line.strip())
    else:
        body = "\n".join(normalize(s, dialect) for s in script.statements)
    return f"{CHECKSUM_ALGORITHM}:{hashlib.sha256(body.encode()).hexdigest()}"


def headers(text: str) -> dict[str, str]:
    found = {m.group(1).lower(): m.group(2) for m in _HEADER.finditer(text)}
    if _NO_TRANSACTION.search(text):
        found["no-transaction"] = "true"
    return found


def version_and_name(stem: str, path: Path) -> tuple[str, str]:
    match = _VERSION_NAME.match(stem)
    if not match:
        raise MigrationFileError(
            f"{path.name}: cannot read a version from the file name.",
            next_step="Name migrations VERSION_name (e.g. 20240116093000_add_users.sql), "
            "or use the Flyway (V1__name.sql) or golang-migrate (1_name.up.sql) conventions.",
        )
    return match["version"], match["name"]


# A DOWN may say on purpose that it cannot undo its UP: `-- irreversible` or `-- irreversible: why`.
IRREVERSIBLE = re.compile(r"^\s*--\s*irreversible\b[\s:.-]*(.*)$", re.IGNORECASE | re.MULTILINE)


def irreversible(down_source: str) -> str | None:
    """The reason a DOWN gives for being irreversible ("" without one), or None when it does not say so."""
    found = IRREVERSIBLE.search(down_source or "")
    return found.group(1).strip() if found else None


def _down(up: Script, down: Script | None) -> Script | None:
    """An empty DOWN is no DOWN (not written yet: a rollback must not silently do nothing), except for an
    UP without statements, which has nothing to undo: its rollback runs nothing and is recorded."""
    if up.is_empty:
        return down or Script()
    return down if down is not None and not down.is_empty else None


def build(
    path: Path,
    fmt: str,
    version: str,
    name: str,
    up: Script,
    down: Script | None,
    dialect: str,
    meta: dict[str, str],
    down_path: Path | None = None,
) -> Migration:
    # An UP with no statements (empty, or only comments) is a valid migration: real projects ship one
    # for a change only another database needs. It is recorded like any other, and runs nothing. Only the
    # unfilled `db-migrate create` template is refused: applying it would record a change never written.
    if up.is_empty and UP_PLACEHOLDER in up.source:
        raise MigrationFileError(
            f"{path.name}: the UP section has no statements, only the template's '{UP_PLACEHOLDER}'.",
            next_step="Write the UP SQL (or delete that line to record a migration that runs nothing).",
        )
    return Migration(
        version=version,
        name=name,
        path=path,
        format=fmt,
        up=up,
        down=_down(up, down),
        checksum=checksum(up, dialect),
        author=meta.get("author"),
        strategy=meta.get("strategy"),
        down_path=down_path,
        irreversible=irreversible(down.source) if down is not None else None,
    )
