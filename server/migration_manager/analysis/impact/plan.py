"""Impact of a whole plan: every statement, judged on the schema it will meet."""

from __future__ import annotations

from ...migrations.model import Migration
from .. import stats
from ..locks import LockImpact, Server, combine, lock_impact, older_servers
from ..model import Operation
from ..operations import script_operations
from ..schema import Snapshot, read_schema
from ..simulate import Replay
from . import StatementImpact
from .advice import level, recommendations
from .estimate import METADATA_SECONDS, estimate


def impact_for_plan(
    engine,
    migrations: list[Migration],
    direction: str = "up",
    *,
    window: str | None = None,
    exclude: tuple[str, ...] = (),
    activity_sample_s: float = 1.0,
) -> list[StatementImpact]:
    """Impact of every statement of `migrations` run in order in `direction` on the engine's database."""
    scripts = [(m, m.up if direction == "up" else m.down) for m in migrations]
    scripts = [(m, s) for m, s in scripts if s is not None and s.statements]
    if not scripts:
        return []
    snapshot = read_schema(engine, exclude=exclude)
    server = Server.parse(engine.dialect, engine.server_version())
    context = _Context(engine, snapshot, stats.throughput(engine), server, stats.activity(engine), window)
    found: list[tuple[StatementImpact, LockImpact]] = []
    replay = Replay(snapshot.copy())
    for migration, script in scripts:
        replay.migration, replay.direction = migration.version, direction
        ops = script_operations(script.statements, engine.dialect)
        for index, statement in enumerate(script.statements, start=1):
            mine = [replay.schema.resolve(op) for op in ops if op.statement_index == index]
            found.append(context.statement(migration.version, direction, index, statement, mine, replay.schema))
            replay.run(mine)
    if activity_sample_s and any(item.impact != "low" for item, _ in found):
        # Timing advice only matters for what is not low: only then wait for a load sample.
        context.activity = stats.with_current_load(engine, context.activity, activity_sample_s)
        found = [(context.advise(item, claim), claim) for item, claim in found]
    return [item for item, _ in found]


class _Context:
    def __init__(self, engine, live: Snapshot, speed, server: Server, activity, window: str | None) -> None:
        self.engine, self.live, self.speed, self.server = engine, live, speed, server
        self.activity, self.window = activity, window
        self.sizes = stats.table_sizes(engine, list(live.tables))

    def statement(
        self, version: str, direction: str, index: int, sql: str, ops: list[Operation], schema: Snapshot
    ) -> tuple[StatementImpact, LockImpact]:
        claims = [lock_impact(op, self.server, schema) for op in ops] or [
            lock_impact(Operation(kind="other", statement=sql), self.server, schema)
        ]
        claim = combine(claims)
        main = _main_operation(ops, claims)
        size = self._size(main, schema)
        work = estimate(
            main,
            claim,
            size,
            self.speed,
            schema,
            self._key_width(main, size),
            self._size_of(main.ref_table, schema) if main.constraint_type == "foreign_key" else None,
        )
        busy = claim.rewrites_table or claim.scans_table or claim.builds_index
        blocked = work.seconds if (claim.blocks_reads or claim.blocks_writes) and busy else METADATA_SECONDS
        rating = level(claim, blocked, work.seconds, size, self.activity)
        tables = [t for t in [main.table, *claim.other_tables] if t]
        return StatementImpact(
            migration=version,
            direction=direction,
            statement_index=index,
            statement=sql,
            operations=[op.kind for op in ops],
            table=main.table,
            server=self.server.label,
            lock=claim.lock,
            algorithm=claim.algorithm,
            other_tables=claim.other_tables,
            blocks=claim.blocks,
            blocks_reads=claim.blocks_reads,
            blocks_writes=claim.blocks_writes,
            rewrites_table=claim.rewrites_table,
            scans_table=claim.scans_table,
            builds_index=claim.builds_index,
            rows=size.rows if size else None,
            rows_source=size.rows_source if size else None,
            table_bytes=size.table_bytes if size else None,
            index_bytes=size.index_bytes if size else None,
            estimated_seconds=round(work.seconds, 4),
            blocked_seconds=round(blocked, 4),
            estimate_basis=f"{work.basis}; rates measured on this server{self._measured_when()}",
            extra_disk_bytes=work.extra_disk_bytes,
            impact=rating,
            explanation=claim.explanation,
            other_versions=self._other_versions(ops, claim, schema),
            recommendations=recommendations(claim, rating, work.extra_disk_bytes, self.activity, self.window),
            watch_query=stats.watch_query(self.engine, tables),
        ), claim

    def _measured_when(self) -> str:
        at = self.speed.measured_at
        return f" at {at:%Y-%m-%d %H:%M} UTC" if at else ""

    def advise(self, item: StatementImpact, claim: LockImpact) -> StatementImpact:
        if item.impact == "low":
            return item
        advice = recommendations(claim, item.impact, item.extra_disk_bytes, self.activity, self.window)
        return item.model_copy(update={"recommendations": advice})

    def _size(self, op: Operation, schema: Snapshot):
        return self._size_of(op.table, schema) if op.kind != "create_table" else None

    def _size_of(self, table: str | None, schema: Snapshot):
        """Live size of a table that existed before the plan; None for one the plan created."""
        if not table or schema.table(table) is None:
            return None
        return self.sizes.get(table.lower())

    def _key_width(self, op: Operation, size) -> float | None:
        if (
            size is None
            or not op.columns
            or not (op.kind == "create_index" or op.constraint_type in ("unique", "primary_key"))
        ):
            return None
        return stats.key_width(self.engine, op.table, op.columns)

    def _other_versions(self, ops: list[Operation], claim: LockImpact, schema: Snapshot) -> dict[str, str]:
        differences = {}
        for other in older_servers(self.server):
            theirs = combine([lock_impact(op, other, schema) for op in ops]) if ops else claim
            if _summary(theirs) != _summary(claim):
                differences[other.label] = _summary(theirs)
        return differences


def _main_operation(ops: list[Operation], claims: list[LockImpact]) -> Operation:
    """The operation that decides the cost: the one with the heaviest claim."""
    if not ops:
        return Operation(kind="other")
    weight = [(c.rewrites_table, c.builds_index, c.scans_table, c.blocks_reads, c.blocks_writes) for c in claims]
    return ops[max(range(len(ops)), key=weight.__getitem__)]


def _summary(claim: LockImpact) -> str:
    work = (
        "rewrites the table"
        if claim.rewrites_table
        else "scans the table"
        if claim.scans_table
        else "builds an index"
        if claim.builds_index
        else "catalog only"
    )
    algorithm = f"{claim.algorithm}, " if claim.algorithm else ""
    return f"{algorithm}{claim.lock}; {work}; blocks {claim.blocks}"
