"""Schema-aware validation: replay the pending migrations on a snapshot of the live schema, in
order, and report what the server would refuse; replay each DOWN after its UP and report what it
does not undo (as a rollback runs the DOWNs); and report pending migrations that conflict with newer
ones (out of order).

Pure: a snapshot and migration files in, `Finding`s out. `service/` reads the live schema.
"""

from __future__ import annotations

from ...migrations.model import Migration, Script
from ..model import Finding
from ..operations import script_operations
from ..schema import Snapshot
from .conflicts import conflict_findings
from .down import UndoStep, differences, rollback_findings, undo_findings
from .replay import Replay

__all__ = ["Replay", "conflict_findings", "expected_schema", "schema_differences", "simulate"]


def simulate(schema: Snapshot, migrations: list[Migration], direction: str = "up") -> list[Finding]:
    """Findings of running `migrations` (in the order given) in `direction` from `schema`.
    For "up", each migration's DOWN is also replayed on its result and compared with the schema before;
    consecutive migrations with SQL DOWNs are then judged together as their rollback runs them."""
    replay = Replay(schema.copy())
    findings: list[Finding] = []
    steps: list[UndoStep] = []  # the migrations since the last one a rollback cannot run back through
    touched: set[str] = set()  # tables their UPs touched
    for migration in migrations:
        script = migration.up if direction == "up" else migration.down
        if script is None:
            continue
        before = replay.schema.copy() if direction == "up" else None
        replay.migration, replay.direction = migration.version, direction
        run_script(replay, script)
        if before is None:
            continue
        down = migration.down or _empty_down_file(migration)
        if down is None or down.is_python or replay.opaque:
            findings += rollback_findings(steps, before, replay.uncertain, touched)
            steps, touched = [], set()
            continue
        touched |= replay.schema.touched
        pair = undo_findings(migration, before, replay) if migration.down else []
        steps.append(UndoStep(migration, down.statements, before, pair))
    if steps:
        findings += rollback_findings(steps, replay.schema, replay.uncertain, touched)
    return replay.findings + findings


def expected_schema(schema: Snapshot, migrations: list[Migration]) -> Replay:
    """The UPs of `migrations` replayed on `schema`: `.schema` is what the server should look like after them,
    `.uncertain` the names no verdict can be given about (opaque statements, Python migrations)."""
    replay = Replay(schema.copy())
    for migration in migrations:
        replay.migration, replay.direction = migration.version, "up"
        run_script(replay, migration.up)
    return replay


def schema_differences(expected: Replay, actual: Snapshot) -> list[str]:
    """Where the live schema differs from the replay's (tables, columns with type and nullability, index and
    constraint names)."""
    return differences(expected.schema.shape(), actual.shape(), expected.uncertain)


def _empty_down_file(migration: Migration) -> Script | None:
    """An empty DOWN file: no DOWN for this tool's rollback, but the raw client and the projects' own
    runners run it as nothing, and generated histories ship them where a neighbour's DOWN does the undo.
    Judged as a step of the rollback that runs nothing; alone it gets no finding (it cannot roll back)."""
    return Script() if migration.down_path is not None and migration.irreversible is None else None


def run_script(replay: Replay, script: Script) -> None:
    if script.is_python:
        replay.run_python()
    else:
        replay.run(script_operations(script.statements, replay.schema.dialect))
