"""Deployment strategies: how a migration's statements reach the database.

The strategy of a migration: its header `-- strategy: NAME`, else `apply --strategy NAME`, else the `strategy`
setting. Per statement (strategies/online.py):
* offline: the SQL as written (strategies/offline.py adds the stop / backup / validate / start around it);
* online: each statement in a form that lets writes go on (as written when it only touches the catalog, the
  server's native online form, or expand/contract with `complete` later); one that has none is refused;
* shadow: each ALTER TABLE of a live table through a shadow copy (strategies/shadow.py), the rest as written;
* auto: the cheapest that keeps writes going: as written, native online, expand/contract, then shadow;
* blue-green: the SQL as written, on the green copy strategies/blue_green.py prepares (issue 14).
A statement the chosen strategy cannot run safely is refused before anything runs, with the alternative.
batches.py is the batched loop the backfill and the shadow copy share; phases.py runs a plan's phases.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from .. import dialects
from ..migrations.model import Migration
from .model import StatementStrategy, Step, StrategyPlan, StrategyRefused

if TYPE_CHECKING:
    from .online import Planner

NAMES = ("offline", "online", "shadow", "blue-green", "auto")
# The strategies that run the SQL as written: offline and blue-green do their work around apply (stop / backup /
# validate / start; a replicated green copy that apply migrates, then a switch), in strategies/offline.py and
# strategies/blue_green.py.
_AS_WRITTEN = {
    "offline": "offline: the SQL as written",
    "blue-green": "blue-green: the SQL as written, on the green copy (`apply --strategy blue-green` prepares it)",
}


def chosen(migration: Migration, requested: str | None, setting: str) -> tuple[str, str]:
    """The strategy of `migration` and where the choice came from."""
    if migration.strategy:
        return _name(migration.strategy), "the file's header"
    if requested:
        return _name(requested), "--strategy"
    return _name(setting), "the strategy setting"


def _name(text: str) -> str:
    name = text.strip().lower().replace("_", "-")
    if name not in NAMES:
        raise StrategyRefused(
            f"Unknown strategy {text!r}.",
            state="Nothing was run.",
            next_step=f"Use one of {', '.join(NAMES)}.",
        )
    return name


class Chooser:
    """Plans every migration of one command on one live database (the schema and server read once)."""

    def __init__(self, engine: Any, setting: str, requested: str | None = None, online: Any = None) -> None:
        self.engine, self.setting, self.requested = engine, setting, requested
        self.online = online  # OnlineSettings: the lock timeout and batch target the steps' stall is bounded by
        self._planners: dict[str, Planner] = {}
        self._schema = None  # the live schema, read once

    def plan(self, migration: Migration) -> StrategyPlan:
        name, by = chosen(migration, self.requested, self.setting)
        plan = StrategyPlan(strategy=name, chosen_by=by)
        statements = migration.up.statements
        if migration.up.is_python:
            plan.note = "a Python migration: its statements are not seen; it runs as written"
            return plan
        if name in _AS_WRITTEN:  # no list of 449k "as written" entries for a bulk load: one note says it
            plan.note = _AS_WRITTEN[name]
            return plan
        planner = self._planner(name)
        if planner is None:
            return self._without_online(plan, name, statements)
        plan.statements = [planner.statement(i, sql) for i, sql in enumerate(statements, start=1)]
        plan.app_must = app_must(plan)
        from ..analysis.impact.steps import StepPredictor  # each step's lock and stall, shown by analyze / dry run

        return StepPredictor(planner.server, planner.snapshot, self.online).annotate(plan)

    def _without_online(self, plan: StrategyPlan, name: str, statements: list[str]) -> StrategyPlan:
        """A database with no online forms (SQLite: one writer at a time, no concurrent DDL): auto runs the SQL as
        written; online and shadow are refused, since they would promise what the database cannot keep."""
        if name != "auto":
            raise StrategyRefused(
                f"The {name} strategy needs a server that changes a table while others write to it; this database "
                "takes one writer at a time.",
                state="Nothing was run.",
                next_step="Use the offline strategy (or auto, which runs the SQL as written here).",
            )
        plan.note = "auto: this database has no online DDL; the SQL runs as written (one writer at a time anyway)"
        return plan

    def _planner(self, name: str) -> Planner | None:
        if not _has_part(self.engine.dialect, "online"):
            return None
        if name not in self._planners:
            from ..analysis.locks import Server
            from ..analysis.schema import read_schema
            from .online import Planner

            self._planners[name] = Planner(
                engine=self.engine,
                strategy=name,
                snapshot=self._schema or read_schema(self.engine),
                server=Server.parse(self.engine.dialect, self.engine.server_version()),
                sql=dialects.dialect_part(self.engine.dialect, "online"),
                shadow=self._shadow_tier(),
            )
            self._schema = self._planners[name].snapshot
        return self._planners[name]

    def _shadow_tier(self):
        """The shadow copy for a statement, where this database has one and nothing in the table refuses it."""
        if not _has_part(self.engine.dialect, "shadow"):
            return None
        from . import shadow

        def plan(index: int, sql: str) -> StatementStrategy | list[str]:
            """The shadow plan, or why the shadow copy cannot run the statement."""
            if why := shadow.refusals(self.engine, sql):
                return why
            return StatementStrategy(
                index=index,
                sql=sql,
                how="shadow",
                reason="rewrites the table under a lock that blocks writes: a shadow copy with the new schema, "
                "kept in sync by triggers, verified, then swapped in; `complete` drops the old table",
                expand=[Step(shadow=sql)],
                app_must="nothing before `complete`: the table is already swapped; complete drops the old copy",
                complete=[Step(shadow=sql)],
                undo=[Step(shadow=sql)],
            )

        return plan


def _has_part(dialect: str, part: str) -> bool:
    """Whether dialects/<db>/ has a module `part` (online, shadow): a database without one has no such strategy."""
    return find_spec(f"{dialects.__name__}.{dialect}.{part}") is not None


def app_must(plan: StrategyPlan) -> list[str]:
    """What the application must do between apply and complete (status shows it)."""
    return [s.app_must for s in plan.statements if s.app_must]


__all__ = ["NAMES", "Chooser", "StrategyPlan", "StrategyRefused", "chosen"]
