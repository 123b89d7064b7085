"""Schema-aware validation: replay the pending migrations on a snapshot of the live schema, in
order, and report what the server would refuse; replay each DOWN after its UP and report what it
does not undo; and report pending migrations that conflict with newer ones (out of order).

Pure: a snapshot and migration files in, `Finding`s out. `service/` reads the live schema.
"""

from __future__ import annotations

from ...migrations.model import Migration, Script
from ..model import Finding
from ..operations import script_operations
from ..schema import Snapshot
from .conflicts import conflict_findings
from .down import undo_findings
from .replay import Replay

__all__ = ["Replay", "conflict_findings", "simulate"]


def simulate(schema: Snapshot, migrations: list[Migration], direction: str = "up") -> list[Finding]:
    """Findings of running `migrations` (in the order given) in `direction` from `schema`.
    For "up", each migration's DOWN is also replayed on its result and compared with the schema before."""
    replay = Replay(schema.copy())
    findings: list[Finding] = []
    for migration in migrations:
        script = migration.up if direction == "up" else migration.down
        if script is None:
            continue
        before = replay.schema.copy() if direction == "up" else None
        replay.migration, replay.direction = migration.version, direction
        run_script(replay, script)
        if before is not None and migration.down is not None and not replay.opaque:
            findings += undo_findings(migration, before, replay)
    return replay.findings + findings


def run_script(replay: Replay, script: Script) -> None:
    if script.is_python:
        replay.run_python()
    else:
        replay.run(script_operations(script.statements, replay.schema.dialect))
