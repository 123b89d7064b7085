"""The manifest written beside every backup: what it holds, how it was made, and its checksum.

It never holds a password: the database URL is redacted and client tools get their password
through the environment (PGPASSWORD / MYSQL_PWD), so the recorded command has none either.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

MANIFEST_FILE = "manifest.json"


class Manifest(BaseModel):
    id: str
    environment: str
    database: str = Field(description="the database URL, password redacted")
    dialect: Literal["postgres", "mysql", "sqlite"]
    server_version: str
    version_before: str | None = Field(None, description="migration version when the backup was taken")
    version_after: str | None = Field(None, description="version the command that took it was going to reach")
    reason: str = Field("manual", description="manual | apply | rollback")
    tool: str = Field(description="client tool and its version, e.g. 'pg_dump (PostgreSQL) 15.4'")
    command: str = Field(description="the exact command run, without any password")
    format: str = Field(description="custom | directory | sql | sqlite")
    scope: Literal["whole", "tables"] = "whole"
    tables: list[str] = Field(default_factory=list, description="with scope=tables: the only tables it holds")
    file: str = Field(description="the backup file (or folder), relative to the manifest")
    size_bytes: int
    sha256: str
    created_at: datetime
    expires_at: datetime


def sha256_of(path: Path) -> str:
    """Checksum of a file, or of a folder (pg_dump -Fd): names and contents of its files, in order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
