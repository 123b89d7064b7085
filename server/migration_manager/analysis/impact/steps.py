"""The stall of each phase step a strategy runs: the lock model applied to the steps, not to the statement as written.

A step is SQL (ADD COLUMN nullable, ADD CONSTRAINT ... NOT VALID, VALIDATE, CREATE INDEX CONCURRENTLY, ...), a
backfill batch (an UPDATE of a primary-key range) or a shadow copy's sub-steps (copy table, triggers, copy batches,
swap). Each goes through the same operation parsing and `lock_impact` as the impact report; only what the parser does
not read (CREATE TRIGGER) takes its claim from the dialect's lock model directly (`locks.create_trigger`). How long
reads or writes can wait on it follows from how the step runs (strategies/phases.py, batches.py, shadow.py):
* a step whose lock blocks nothing stalls nobody (a batch's row locks hold a write to one of its rows up to the
  batch target);
* a catalog-only step whose lock blocks reads or writes holds it for a moment, but waits behind open transactions
  while everything after it queues behind it: the runner bounds that wait (online.lockTimeoutMs, the shadow
  cut-over's lock timeout) and retries;
* a step that blocks while it scans or rewrites stalls for the whole statement (the impact report's estimate).
"""

from __future__ import annotations

from ... import dialects
from ...config import OnlineSettings
from ...strategies.model import SWAP_LOCK_TIMEOUT_MS, Backfill, Step, StepLock, StrategyPlan
from ..locks import LockImpact, Server, combine, lock_impact
from ..operations import statement_operations
from ..schema import Snapshot
from ..simulate import Replay


class StepPredictor:
    """Predicts the lock and stall of every step of a plan on one server and live schema."""

    def __init__(self, server: Server, schema: Snapshot, online: OnlineSettings | None = None) -> None:
        self.server, self.schema, self.online = server, schema, online or OnlineSettings()
        self.dialect = server.dialect

    def annotate(self, plan: StrategyPlan) -> StrategyPlan:
        """Each step of `plan` with its predicted locks (`Step.locks`), in place. The steps are replayed on a copy
        of the schema in the order they run, so each is judged on the schema it meets (SET NOT NULL after its CHECK
        was validated needs no scan); undo steps on the schema after apply. A statement run as written is the impact
        report's (it is only replayed), and a plan that rewrites nothing is left as it is."""
        if not plan.rewrites:
            return plan
        live, replay = self.schema, Replay(self.schema.copy())
        phases = [(s.how, "apply", s.expand) for s in plan.statements]
        phases += [(s.how, "complete", s.complete) for s in plan.statements]
        try:
            for how, phase, steps in phases:
                for step in steps:
                    self.schema = replay.schema
                    if how != "as written":
                        step.locks = self.step(step, phase)
                    if step.sql:
                        replay.run([replay.schema.resolve(op) for op in statement_operations(step.sql, self.dialect)])
            self.schema = live
            for statement in plan.statements:
                for step in statement.undo:
                    step.locks = self.step(step, "undo")
        finally:
            self.schema = live
        return plan

    def step(self, step: Step, phase: str) -> list[StepLock]:
        if step.backfill is not None:
            return [self._backfill(step.backfill)]
        if step.shadow is not None:
            return self._shadow(step.shadow, phase)
        return [self._sql(step.sql or "")]

    # ---- SQL steps ----------------------------------------------------------------------------------
    def claim(self, sql: str) -> LockImpact:
        """The lock model's claim for one step's SQL (the same parsing and lock_impact as the impact report)."""
        ops = [self.schema.resolve(op) for op in statement_operations(sql, self.dialect)]
        return combine([lock_impact(op, self.server, self.schema) for op in ops])

    def _sql(self, sql: str) -> StepLock:
        claim = self.claim(sql)
        weak = dialects.dialect_part(self.dialect, "online").weak_lock(sql)
        bound = None if weak else self.online.lockTimeoutMs
        return _prediction(" ".join(sql.split()), claim, self._queues(claim), bound, "online.lockTimeoutMs")

    def _queues(self, claim: LockImpact) -> bool:
        """Whether reads or writes queue behind the step while it waits for its lock: a PostgreSQL lock that blocks
        them; on MySQL/MariaDB every ALTER's exclusive metadata lock at its start and end."""
        return claim.blocks_reads or claim.blocks_writes or claim.algorithm is not None

    # ---- backfill batches ------------------------------------------------------------------------------
    def _backfill(self, fill: Backfill) -> StepLock:
        batch = f"UPDATE {fill.table} SET {fill.column} = {fill.value} WHERE {fill.column} IS NULL"
        return self._batch(f"each backfill batch: {batch} (one primary-key range)", self.claim(batch))

    def _batch(
        self,
        what: str,
        claim: LockImpact,
        table: str | None = None,
        target_ms: int | None = None,
        waits: str = "a write to a row of the batch",
    ) -> StepLock:
        target = target_ms or self.online.batchTargetMs
        return StepLock(
            step=what,
            table=table or claim.table,
            lock=claim.lock,
            blocks=f"nothing at table level; {waits} waits for the batch's commit",
            blocks_reads=False,
            blocks_writes=False,
            queues_behind_transactions=False,
            stall_ms=target,
            stall=f"at most ~{target} ms for {waits} (the batch's target time)",
        )

    # ---- shadow copy -----------------------------------------------------------------------------------
    def _shadow(self, alter: str, phase: str) -> list[StepLock]:
        table = next((op.table for op in statement_operations(alter, self.dialect) if op.table), "t")
        shadow = dialects.dialect_part(self.dialect, "shadow")
        copy, old, swap = shadow.quote(f"_mm_new_{table}"), shadow.quote(f"_mm_old_{table}"), shadow.swap_sql(table)
        cut = "the cut-over's lock timeout, retried with backoff"
        triggers = dialects.dialect_part(self.dialect, "locks").create_trigger(table)
        if phase == "apply":
            return [
                _unused(f"create the copy {copy}", self.claim(shadow.copy_table_sql(table))),
                _prediction("create the sync triggers", triggers, True, SWAP_LOCK_TIMEOUT_MS, cut),
                self._batch(
                    "each copy batch: a primary-key range of the table, read with row locks, into the copy",
                    self.claim(f"INSERT INTO {copy} SELECT * FROM {shadow.quote(table)}"),
                    table,
                    round(shadow.COPY_BATCH_S * 1000),
                    shadow.BATCH_WAITS,
                ),
                _prediction(f"swap: {swap}", self.claim(swap), True, SWAP_LOCK_TIMEOUT_MS, cut),
            ]
        if phase == "complete":
            return [
                _prediction("drop the reverse triggers", triggers, True, SWAP_LOCK_TIMEOUT_MS, cut),
                _unused(f"drop the old table {old}", self.claim(f"DROP TABLE {old}")),
            ]
        return [_prediction(f"swap back: {swap}", self.claim(swap), True, SWAP_LOCK_TIMEOUT_MS, cut)]


def _unused(what: str, claim: LockImpact) -> StepLock:
    """A step on the shadow copy or the old table: its lock holds a table the application no longer (or not yet)
    uses, so nobody waits on it unless it also locks another table."""
    if claim.other_tables:
        return _prediction(what, claim, True, None, "")
    step = _prediction(what, claim, False, None, "")
    return step.model_copy(update={"stall_ms": 0, "stall": f"none: it locks only {claim.table}, which nobody uses"})


def _prediction(what: str, claim: LockImpact, queues: bool, bound_ms: int | None, bound_by: str) -> StepLock:
    busy = claim.rewrites_table or claim.scans_table or claim.builds_index
    blocking = claim.blocks_reads or claim.blocks_writes
    if blocking and busy:
        stall_ms, stall = None, "for the whole statement (it reads or copies the table under its lock)"
    elif blocking or queues:
        wait = (
            f"waits for open transactions at most {bound_ms} ms per try ({bound_by})"
            if bound_ms
            else ("waits for open transactions as long as ddlLockTimeoutMs allows")
        )
        stall_ms = bound_ms
        stall = f"held a moment (catalog only), but it {wait}, and reads and writes queue behind it meanwhile"
    else:
        stall_ms, stall = 0, "none: reads and writes go on" + (" while it works" if busy else "")
    return StepLock(
        step=what,
        table=claim.table,
        lock=claim.lock,
        algorithm=claim.algorithm,
        blocks=claim.blocks,
        blocks_reads=claim.blocks_reads,
        blocks_writes=claim.blocks_writes,
        queues_behind_transactions=queues,
        stall_ms=stall_ms,
        stall=stall,
    )


__all__ = ["StepPredictor"]
