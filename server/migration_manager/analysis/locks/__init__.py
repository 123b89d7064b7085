"""The lock model: for one operation on one server, which lock it takes, what that lock blocks,
and whether the table is scanned, rewritten or indexed while it is held.

PostgreSQL (`dialects/postgres/locks.py`): the table-level lock mode per statement and version, from the
"Explicit Locking" and ALTER TABLE docs, each claim proven on the live server by
tests/analysis/test_locks_postgres.py (a session holds the lock, a second one is blocked or not).
MySQL/MariaDB (`dialects/mysql/locks.py`): the best ALGORITHM (INSTANT < NOCOPY < INPLACE < COPY) and LOCK
(NONE < SHARED < EXCLUSIVE) the server accepts, proven by asking the server for exactly that
combination and for the next better one (tests/analysis/test_locks_mysql.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from ... import dialects


class LockImpact(BaseModel):
    """What one statement does to concurrent traffic."""

    table: str | None = None
    lock: str = Field(description="table lock mode (PostgreSQL) or metadata lock + LOCK= level (MySQL/MariaDB)")
    algorithm: str | None = Field(None, description="MySQL/MariaDB: INSTANT, NOCOPY, INPLACE or COPY")
    other_tables: dict[str, str] = Field(default_factory=dict, description="other tables locked, with their mode")
    blocks_reads: bool
    blocks_writes: bool
    rewrites_table: bool = False
    scans_table: bool = False
    builds_index: bool = False
    in_transaction: bool = Field(True, description="can run inside a transaction block")
    known: bool = Field(True, description="False: the statement is not in the lock model; assume the worst")
    default_evaluated_once: bool = Field(
        False, description="the existing rows all get one value of the new column's DEFAULT (MariaDB INSTANT)"
    )
    explanation: str = ""
    safer: str | None = None

    @property
    def blocks(self) -> str:
        if self.blocks_reads:
            return "reads and writes"
        return "writes" if self.blocks_writes else "nothing (reads and writes go on)"


@dataclass(frozen=True)
class Server:
    """Which server the lock claims are for: its dialect, the flavour (a key of the Dialect's flavors) and version."""

    dialect: str
    flavor: str  # postgresql | mysql | mariadb | sqlite
    version: tuple[int, ...]

    @classmethod
    def parse(cls, dialect: str, version_text: str) -> Server:
        return cls(dialect, *dialects.get(dialect).server_flavor(version_text))

    def at_least(self, *version: int) -> bool:
        return self.version >= version

    @property
    def label(self) -> str:
        name = dialects.get(self.dialect).flavors[self.flavor]
        return f"{name} {'.'.join(map(str, self.version[:2]))}"


def combine(claims: list[LockImpact]) -> LockImpact:
    """One statement's claim from its operations' claims (an ALTER TABLE with several actions
    takes the strongest lock any of them needs, for as long as the slowest needs it)."""
    if len(claims) == 1:
        return claims[0]
    worst = max(claims, key=_strength)
    others: dict[str, str] = {}
    for claim in claims:
        others.update(claim.other_tables)
    return worst.model_copy(
        update={
            "other_tables": others,
            "blocks_reads": any(c.blocks_reads for c in claims),
            "blocks_writes": any(c.blocks_writes for c in claims),
            "rewrites_table": any(c.rewrites_table for c in claims),
            "scans_table": any(c.scans_table for c in claims),
            "builds_index": any(c.builds_index for c in claims),
            "in_transaction": all(c.in_transaction for c in claims),
            "known": all(c.known for c in claims),
            "default_evaluated_once": any(c.default_evaluated_once for c in claims),
            "explanation": "; ".join(dict.fromkeys(c.explanation for c in claims if c.explanation)),
            "safer": "; ".join(dict.fromkeys(c.safer for c in claims if c.safer)) or None,
        }
    )


_ALGORITHMS = [None, "INSTANT", "NOCOPY", "INPLACE", "COPY"]


def _strength(claim: LockImpact) -> tuple:
    return (
        claim.blocks_reads,
        claim.blocks_writes,
        claim.rewrites_table,
        _ALGORITHMS.index(claim.algorithm),
        claim.scans_table or claim.builds_index,
    )


def lock_impact(op, server: Server, schema=None) -> LockImpact:
    """The lock claim for operation `op` on `server`; `schema` (a Snapshot) refines it where the
    answer depends on what exists (old column type, an existing CHECK ... IS NOT NULL)."""
    return dialects.get(server.dialect).part("locks").lock_impact(op, server, schema)


def older_servers(server: Server) -> list[Server]:
    """Older versions of the server whose lock claims may differ (its lock model's REFERENCE_VERSIONS)."""
    known = getattr(dialects.get(server.dialect).part("locks"), "REFERENCE_VERSIONS", {}).get(server.flavor, ())
    return [older for older in (Server.parse(server.dialect, text) for text in known) if older.version < server.version]
