"""The blue-green strategy: migrate a live copy of the database, then switch the environment to it.

`apply --strategy blue-green` (prepare): refuse what replication cannot carry, clone blue into green (schema and
history rows, then logical replication: green keeps receiving blue's writes), migrate green with the normal
pipeline, test it (constraints hold, row counts equal to blue's once green caught up) and report the time to a
ready green. Blue serves all along.
`switch`: freeze writes on blue (new sessions read-only, running transactions bounded, then ended), wait until
green confirmed every change, set green's sequences, stop blue -> green, make the slot for green -> blue, flip
the active side (the one place `db-migrate url` reads: `.migration-manager/blue-green/<env>.json`), then
subscribe blue to green so blue stays a current fallback. The freeze is measured from the freeze to the flip.
`switch --back`: the same the other way (green's writes are on blue already), and blue is writable again.
`complete`: stops replication and drops the side that no longer serves (green after a switch back).
Per-database work lives in dialects/<db>/replication.py.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from types import ModuleType
from typing import Literal

from pydantic import BaseModel, Field

from ..config import BlueGreenState, green_url, interpolate
from ..dialects import dialect_part, open_engine
from ..errors import ConfigError, MigrationError
from ..reports import BlueGreenReport, BlueGreenStatus, Check, ErrorReport, RunReport, StrategyStep, TableCount
from ..requests import SwitchRequest
from ..service.context import Progress, ProgressEvent, TargetRequest, open_project
from ..service.migrate import ApplyRequest, apply
from ..urls import parse_url, redact

FREEZE_BOUND_S = 2.0  # running transactions on the frozen side get this long before their sessions are ended
CATCH_UP_S = 30.0  # how long the switch waits for the replica to confirm the last change
SYNC_S = 600.0  # the initial copy into green
AS_WRITTEN = "offline"  # green takes no traffic but replication's: its migrations run as written, none left expanded


class BlueGreenRefused(MigrationError):
    kind = "blue_green_refused"
    exit_code = 1


class Sides:
    """Blue and green of one environment: their URLs, the replication module, the deployment's state."""

    def __init__(self, request: TargetRequest) -> None:
        self.project = open_project(request)
        name = self.project.target.name
        environment = self.project.settings.environments.get(name)
        if environment is None:
            raise ConfigError(
                "Blue-green works on a named environment (--env NAME): its state and active side are the "
                "environment's.",
                state="Nothing was run.",
                next_step="Add the environment to the settings and pass --env.",
            )
        self.environment, self.name = environment, name
        self.blue_url = interpolate(environment.url)
        self.blue = parse_url(self.blue_url)
        self.replication = replication_for(self.blue.kind)
        self.state = BlueGreenState.load(self.project.dir, name)

    @property
    def green_url(self) -> str:
        return green_url(self.environment, self.state.green_database)

    @property
    def history_tables(self) -> tuple[str, str]:
        table = self.project.settings.historyTable
        return table, f"{table}_log"

    def report(self, action: str) -> BlueGreenReport:
        report = BlueGreenReport(action=action, environment=self.name, blue=redact(self.blue_url))
        if self.state is not None:
            report.green, report.active = redact(self.green_url), self.state.active
        return report

    def save(self, event: str) -> None:
        self.state.events.append(f"{datetime.now(UTC).isoformat(timespec='seconds')} {event}")
        self.state.save(self.project.dir)


def replication_for(kind: str) -> ModuleType:
    try:
        return dialect_part(kind, "replication")
    except ModuleNotFoundError:
        raise ConfigError(
            f"The blue-green strategy needs a replication module for {kind}: it is built for PostgreSQL (logical "
            "replication) and MariaDB/MySQL (binary-log replay).",
            state="Nothing was run.",
            next_step="Use the offline or online strategy for this database.",
        ) from None


class Steps:
    """Timed steps into a report, each announced as progress."""

    def __init__(self, report: BlueGreenReport, progress: Progress | None) -> None:
        self.report, self.progress = report, progress

    @contextmanager
    def __call__(self, name: str) -> Iterator[StrategyStep]:
        step = StrategyStep(name=name)
        if self.progress:
            self.progress(ProgressEvent(phase="strategy", message=name))
        started = time.monotonic()
        try:
            yield step
        except Exception as exc:
            step.ok, step.detail = False, getattr(exc, "message", None) or redact(" ".join(str(exc).split()))[:600]
            raise
        finally:
            step.duration_ms = int((time.monotonic() - started) * 1000)
            self.report.steps.append(step)


# ---- apply --strategy blue-green ----------------------------------------------------------------------
def prepare(request: ApplyRequest, progress: Progress | None = None) -> BlueGreenReport:
    """Clone blue into a replicating green, migrate green, test it. Blue keeps serving; nothing is switched."""
    started = time.monotonic()
    sides = Sides(request)
    report = sides.report("blue-green")
    if sides.state is not None and sides.state.phase != "completed":
        raise BlueGreenRefused(
            f"A blue-green deployment of '{sides.name}' is under way (active: {sides.state.active}, "
            f"phase: {sides.state.phase}).",
            state="Nothing was run.",
            next_step="`db-migrate switch`, `switch --back` or `complete` it first.",
        )
    preview = apply(  # what green will get: green starts as a copy of blue (strategy blue-green: as written)
        request.model_copy(update={"dry_run": True, "url": sides.blue_url, "env": None, "strategy": "blue-green"}),
        progress,
    )
    report.apply = preview
    if preview.outcome in ("nothing-to-do", "failed"):
        report.outcome, report.message, report.error = preview.outcome, preview.message, preview.error
        return report
    frozen = _copy_with_freeze(sides)
    if not frozen:
        _refuse_what_replication_cannot_carry(sides, preview)
    green_database = _green_database(sides)
    report.green = redact(green_url(sides.environment, green_database))
    if request.dry_run:
        how = (
            "with blue's writes frozen from the copy to the switch (no logical replication)"
            if frozen
            else "with logical replication; blue keeps serving"
        )
        report.outcome = "dry-run"
        report.message = (
            f"Dry run: would copy blue into {green_database} {how}, apply {len(preview.migrations)} migration(s) "
            f"there (the statements shown run on green, {green_database}; blue is not migrated) and test it, then "
            f"wait for `db-migrate switch --env {sides.name}`. Nothing was changed."
        )
        return report
    sides.state = BlueGreenState(
        environment=sides.name, green_database=green_database, forward=_replication_name(sides, "forward")
    )
    step = Steps(report, progress)
    try:
        _copy_frozen(sides, report, step) if frozen else _clone(sides, step)
        report.apply = _migrate_green(sides, step)
        if report.apply.outcome != "done":
            raise BlueGreenRefused(
                f"Migrating green failed: {report.apply.message}",
                state="Blue is unchanged and keeps serving; green was dropped.",
                next_step="Fix the migration and run again.",
            )
        _test_green(sides, report, step)
    except Exception as exc:
        _tear_down(sides, report, step)
        if not isinstance(exc, MigrationError):
            raise
        report.outcome, report.message, report.error = "failed", exc.message, ErrorReport.of(exc)
        return report
    sides.state.phase = "ready"
    sides.save("green migrated and tested")
    report.active, report.ready_ms = "blue", int((time.monotonic() - started) * 1000)
    failed = [c.name for c in report.checks if not c.ok]
    if failed:
        report.outcome = "failed"
        report.message = f"Green is migrated but its checks failed: {'; '.join(failed)}. Nothing was switched."
    else:
        report.message = (
            f"Green ({green_database}) is migrated, tested and receiving blue's writes; blue still serves. "
            f"Ready in {report.ready_ms / 1000:.1f} s. Next: `db-migrate switch --env {sides.name}`."
        )
    return report


def _copy_with_freeze(sides: Sides) -> bool:
    """True when logical replication is off and the environment accepts the fallback: a copy of a frozen blue."""
    if sides.environment.blueGreenWithoutReplication != "freeze-writes":
        return False
    with closing(open_engine(sides.blue_url)) as engine:
        return sides.replication.replication_off(engine) is not None


def _copy_frozen(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    """The honest fallback without logical replication: blue's writes stop now and stay stopped until the switch
    (or complete), so the copy misses nothing."""
    replication, green = sides.replication, parse_url(sides.green_url)
    sides.state.frozen_since = datetime.now(UTC).isoformat()
    sides.save("blue frozen for the copy (no logical replication)")
    with step("freeze writes on blue until the switch (no logical replication)") as done:
        report.sessions_ended = replication.freeze(
            sides.blue, sides.blue.database, FREEZE_BOUND_S, sides.history_tables
        )
        done.detail = f"{len(report.sessions_ended)} session(s) ended"
    with step("copy blue into green") as done:
        done.detail = replication.create_frozen_copy(sides.blue, green.database)
    sides.save(f"green {green.database} copied")


def _refuse_what_replication_cannot_carry(sides: Sides, preview: RunReport) -> None:
    from ..analysis.operations import script_operations

    with closing(open_engine(sides.blue_url)) as engine:
        found = sides.replication.problems(engine, sides.history_tables)
    breaking = {"drop_table", "rename_table", "drop_column", "rename_column"}
    for run in preview.migrations:
        for op in script_operations([s.sql for s in run.statements], sides.project.dialect):
            if op.kind in breaking:
                found.append(
                    f"{run.version}_{run.name}: {op.kind.replace('_', ' ')} {op.table}"
                    + (f".{op.column}" if op.column else "")
                    + ": blue's writes keep arriving in the old shape while green runs the new one, and "
                    "replication would stop on it. Expand now, contract after `complete` (a later migration)"
                )
    if found:
        raise BlueGreenRefused(
            "Blue-green cannot carry this deployment: " + "; ".join(found) + ".",
            state="Nothing was run: blue is unchanged and no green was made.",
            next_step="Fix what is listed, or use the offline strategy (a stated downtime).",
        )


def _green_database(sides: Sides) -> str:
    name = (
        parse_url(sides.environment.greenUrl).database if sides.environment.greenUrl else f"{sides.blue.database}_green"
    )
    if sides.replication.database_exists(parse_url(green_url(sides.environment, name)), name):
        raise BlueGreenRefused(
            f"The green database {name} exists already.",
            state="Nothing was run.",
            next_step=f"Drop it (DROP DATABASE {name}) if it is a leftover, or set greenUrl to another database.",
        )
    return name


def _clone(sides: Sides, step: Steps) -> None:
    replication, green = sides.replication, parse_url(sides.green_url)
    with closing(open_engine(sides.blue_url)) as engine:
        history = tuple(t for t in sides.history_tables if engine.table_exists(t))
        with step("clone blue's schema and history into green") as done:
            done.detail = replication.create_copy(sides.blue, green.database, history)
        sides.save(f"green {green.database} created")
        names = replication.tables(engine, sides.history_tables)
        columns_of = {t: replication.columns(engine, t) for t in names}
        sides.state.blue_schema = replication.schema_fingerprint(engine, sides.history_tables)
    with step("replicate blue -> green (publication, slot, subscription with copy_data)") as done:
        replication.make_slot(sides.blue_url, sides.state.forward, columns_of)
        replication.subscribe(sides.blue_url, sides.green_url, sides.state.forward, copy_data=True)
        replication.wait_synced(sides.green_url, sides.state.forward, SYNC_S)
        done.detail = f"{len(names)} table(s) copied; every later write on blue follows"
    sides.save("replication blue -> green started")


def _migrate_green(sides: Sides, step: Steps) -> RunReport:
    request = ApplyRequest(
        project_dir=sides.project.dir,
        migrations_dir=sides.project.migrations_dir,
        url=sides.green_url,
        approved=True,  # green serves nobody yet: the approval that matters is the switch's
        outside_window=True,
        strategy=AS_WRITTEN,
    )
    with step("migrate green (the normal pipeline)") as done:
        result = apply(request)
        done.ok, done.detail = result.outcome == "done", result.message
    return result


def _test_green(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    from ..clone import constraint_problems

    replication = sides.replication
    with step("test green: constraints, row counts against blue"):
        blue, green = open_engine(sides.blue_url), open_engine(sides.green_url)
        try:
            problems = constraint_problems(green)
            report.checks.append(
                Check(name="constraints hold on green", ok=not problems, detail="; ".join(problems) or "all hold")
            )
            names = replication.tables(blue, sides.history_tables)
            blue_counts = replication.row_counts(blue, names)
            if not sides.state.frozen_since:  # a frozen blue has nothing more to send
                replication.wait_caught_up(blue, sides.state.forward, CATCH_UP_S)
            green_counts = replication.row_counts(green, names)
            report.lag_bytes = replication.lag_bytes(blue, sides.state.forward)
        finally:
            blue.close()
            green.close()
    report.row_counts = [TableCount(table=t, blue=blue_counts[t], green=green_counts[t]) for t in names]
    differ = [f"{c.table}: blue {c.blue}, green {c.green}" for c in report.row_counts if c.blue != c.green]
    report.checks.append(
        Check(
            name="row counts against blue",
            ok=True,
            warning=bool(differ),
            detail=("differ by the writes made while counting (green follows): " + "; ".join(differ))
            if differ
            else f"{len(names)} table(s) equal",
        )
    )


def _tear_down(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    """After a failed prepare: no replication, no green, no state. Blue was never touched but for the slot."""
    try:
        with step("drop green and its replication"):
            sides.replication.stop(sides.blue_url, sides.green_url, sides.state.forward)
            sides.replication.drop_database(parse_url(sides.green_url), sides.state.green_database)
            if sides.state.frozen_since:
                sides.replication.unfreeze(sides.blue, sides.blue.database)
            BlueGreenState.path(sides.project.dir, sides.name).unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - the step records why; the original failure is what the report says
        report.message += " Green could not be dropped: `db-migrate complete` retries."


# ---- switch and switch --back -----------------------------------------------------------------
def switch(request: SwitchRequest, progress: Progress | None = None) -> BlueGreenReport:
    sides = Sides(request)
    report = sides.report("switch-back" if request.back else "switch")
    state = _switchable(sides, request.back)
    report.plan_id = _plan_id(sides, report.action)
    if sides.project.target.require_approval:
        report.approval_reasons = [f"environment '{sides.name}' requires approval (requireApproval)"]
        report.needs_approval = True
    if request.dry_run:
        report.outcome, report.message = "dry-run", f"Dry run: would {report.action} '{sides.name}'. Nothing changed."
        return report
    if report.needs_approval and not (request.approved and request.approved_plan_id in (None, report.plan_id)):
        report.outcome = "needs-approval"
        report.message = f"Approval needed before the {report.action}: " + "; ".join(report.approval_reasons)
        return report
    step = Steps(report, progress)
    try:
        if request.back:
            _switch_back(sides, report, step)
        else:
            _switch_to_green(sides, report, step)
    except MigrationError as exc:
        report.outcome, report.message, report.error = "failed", exc.message, ErrorReport.of(exc)
        return report
    report.active = state.active
    _record(sides, report)
    return report


def _switchable(sides: Sides, back: bool) -> BlueGreenState:
    state = sides.state
    if state is None or state.phase == "completed":
        raise BlueGreenRefused(
            f"No blue-green deployment of '{sides.name}' is under way.",
            state="Nothing was switched.",
            next_step=f"`db-migrate apply --env {sides.name} --strategy blue-green` makes a green first.",
        )
    if back and state.frozen_since:
        raise BlueGreenRefused(
            f"'{sides.name}' cannot switch back: without logical replication green's writes never reached blue.",
            state="Nothing was switched; green serves.",
            next_step="Stay on green, or restore blue's data by hand; `db-migrate complete` retires blue.",
        )
    wanted = ("switched",) if back else ("ready",)
    if state.phase not in wanted:
        raise BlueGreenRefused(
            f"'{sides.name}' cannot {'switch back' if back else 'switch'} now: active {state.active}, "
            f"phase {state.phase}.",
            state="Nothing was switched.",
            next_step="`db-migrate complete` ends this deployment; a new one starts from a fresh green.",
        )
    return state


def _switch_to_green(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    replication, state = sides.replication, sides.state
    if state.frozen_since:
        _switch_frozen(sides, report, step)
        return
    columns_back = _refuse_before_switch(sides)
    state.reverse = _replication_name(sides, "reverse")
    frozen_at = time.monotonic()
    with step("freeze writes on blue") as done:
        report.sessions_ended = replication.freeze(
            sides.blue, sides.blue.database, FREEZE_BOUND_S, sides.history_tables
        )
        done.detail = f"{len(report.sessions_ended)} session(s) ended after {FREEZE_BOUND_S:g} s at most"
    blue = open_engine(sides.blue_url)  # after the freeze, which ends every other session on blue
    try:
        report.lag_bytes = replication.lag_bytes(blue, state.forward)
        try:
            with step("wait until green confirmed blue's last change (lag 0)"):
                replication.wait_caught_up(blue, state.forward, CATCH_UP_S)
            _hand_over(sides, step, blue_to_green=True, columns_back=columns_back)
        except BaseException:
            replication.unfreeze(sides.blue, sides.blue.database)  # blue serves on: nothing was switched
            raise
        state.active, state.phase = "green", "switched"
        sides.save("switched to green")
        report.freeze_ms = int((time.monotonic() - frozen_at) * 1000)
    finally:
        blue.close()
    with step("replicate green -> blue (blue stays a current fallback)"):
        replication.subscribe(sides.green_url, sides.blue_url, state.reverse, copy_data=False)
    report.message = (
        f"'{sides.name}' now serves from green; writes were frozen {report.freeze_ms} ms. Blue is read-only and "
        f"receives green's writes. `db-migrate url --env {sides.name}` prints the active URL; "
        f"`switch --back` returns, `complete` retires blue."
    )


def _switch_frozen(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    """Without replication blue has been frozen since the copy: sequences onto green, then the flip."""
    with step("set sequences on green") as done:
        blue, green = open_engine(sides.blue_url), open_engine(sides.green_url)
        try:
            done.detail = f"{sides.replication.copy_sequences(blue, green)} sequence(s)"
        finally:
            blue.close()
            green.close()
    sides.state.active, sides.state.phase = "green", "switched"
    sides.save("switched to green (blue frozen since the copy)")
    frozen_since = datetime.fromisoformat(sides.state.frozen_since)
    report.freeze_ms = int((datetime.now(UTC) - frozen_since).total_seconds() * 1000)
    report.message = (
        f"'{sides.name}' now serves from green. Without logical replication blue's writes were frozen "
        f"{report.freeze_ms / 1000:.1f} s, from the copy to this switch. Blue stays read-only and receives nothing: "
        f"no switch --back; `complete` retires blue."
    )


def _hand_over(sides: Sides, step: Steps, *, blue_to_green: bool, columns_back: dict[str, list[str]]) -> None:
    """Inside the freeze: sequences onto the new side, the old replication stopped, the return slot made."""
    replication, state = sides.replication, sides.state
    old_url, new_url = (sides.blue_url, sides.green_url) if blue_to_green else (sides.green_url, sides.blue_url)
    if replication.SEQUENCES_REPLICATED is False:  # e.g. PostgreSQL: replication carries no sequence values
        with step("set sequences on the new side") as done:
            old, new = open_engine(old_url), open_engine(new_url)
            try:
                done.detail = f"{replication.copy_sequences(old, new)} sequence(s)"
            finally:
                old.close()
                new.close()
    with step("stop the old replication"):
        replication.stop(old_url, new_url, state.forward if blue_to_green else state.reverse)
        new = parse_url(new_url)  # a freeze made of DDL (MariaDB's triggers) may have been replayed onto it
        replication.unfreeze(new, new.database)
    if blue_to_green:
        with step("publish green's changes back to blue (slot made before green takes writes)"):
            replication.make_slot(sides.green_url, state.reverse, columns_back)


def _refuse_before_switch(sides: Sides) -> dict[str, list[str]]:
    """DDL on blue since the clone stops the switch (replication does not carry it); so does a column of blue's
    that green no longer has and that blue cannot fill itself (NOT NULL without a default) on the way back.
    Returns per table shared by both the columns green sends back."""
    replication = sides.replication
    blue, green = open_engine(sides.blue_url), open_engine(sides.green_url)
    try:
        if replication.schema_fingerprint(blue, sides.history_tables) != sides.state.blue_schema:
            raise BlueGreenRefused(
                "Blue's schema changed since green was cloned (DDL during the window): logical replication does "
                "not carry DDL, so green may lack it.",
                state="Nothing was switched; blue serves and replicates to green as before.",
                next_step="`db-migrate complete` drops green; run the blue-green apply again.",
            )
        shared = set(replication.tables(green, sides.history_tables))
        columns_back = {}
        for table in replication.tables(blue, sides.history_tables):
            if table in shared:
                on_green = set(replication.columns(green, table))
                columns_back[table] = [c for c in replication.columns(blue, table) if c in on_green]
        return columns_back
    finally:
        blue.close()
        green.close()


def _switch_back(sides: Sides, report: BlueGreenReport, step: Steps) -> None:
    replication, state = sides.replication, sides.state
    green_server = parse_url(sides.green_url)
    with step("wait until blue reads green's changes"):
        with closing(open_engine(sides.green_url)) as green:
            replication.wait_streaming(green, state.reverse, CATCH_UP_S)
    frozen_at = time.monotonic()
    with step("freeze writes on green") as done:
        report.sessions_ended = replication.freeze(
            green_server, green_server.database, FREEZE_BOUND_S, sides.history_tables
        )
        done.detail = f"{len(report.sessions_ended)} session(s) ended after {FREEZE_BOUND_S:g} s at most"
    green = open_engine(sides.green_url)  # after the freeze, which ends every other session on green
    try:
        report.lag_bytes = replication.lag_bytes(green, state.reverse)
        try:
            with step("wait until blue confirmed green's last change (lag 0)"):
                replication.wait_caught_up(green, state.reverse, CATCH_UP_S)
            _hand_over(sides, step, blue_to_green=False, columns_back={})
            with step("blue takes writes again"):
                replication.unfreeze(sides.blue, sides.blue.database)
        except BaseException:
            replication.unfreeze(green_server, green_server.database)
            raise
        state.active, state.phase, state.reverse = "blue", "switched-back", None
        sides.save("switched back to blue")
        report.freeze_ms = int((time.monotonic() - frozen_at) * 1000)
    finally:
        green.close()
    report.message = (
        f"'{sides.name}' serves from blue again, with green's writes; writes were frozen {report.freeze_ms} ms. "
        f"Green is read-only and no longer replicated: `db-migrate complete --env {sides.name}` drops it."
    )


def _record(sides: Sides, report: BlueGreenReport) -> None:
    """The switch in the event log of the side that serves now (the audit trail follows the data)."""
    from ..history import History

    with closing(open_engine(sides.green_url if sides.state.active == "green" else sides.blue_url)) as engine:
        history = History(engine, sides.project.settings.historyTable)
        rows = history.rows()
        version = max(rows, key=lambda v: rows[v].applied_at) if rows else "0"
        history.log(
            version,
            rows[version].name if rows else None,
            report.action,
            "ok",
            duration_ms=report.freeze_ms,
            author=sides.project.author(),
            detail=f"active: {sides.state.active}; writes frozen {report.freeze_ms} ms",
        )


# ---- complete ---------------------------------------------------------------------------------------
def complete(request: SwitchRequest, progress: Progress | None = None) -> BlueGreenReport:
    """Stop replication and drop the side that does not serve (blue after a switch, green otherwise)."""
    sides = Sides(request)
    report = sides.report("complete")
    state = sides.state
    if state is None or state.phase == "completed":
        report.outcome, report.message = "nothing-to-do", f"No blue-green deployment of '{sides.name}' is under way."
        return report
    retired = "blue" if state.active == "green" else "green"
    retired_url = sides.blue_url if retired == "blue" else sides.green_url
    report.plan_id = _plan_id(sides, "complete")
    report.approval_reasons = [f"drops the {retired} database {parse_url(retired_url).database}"]
    if sides.project.target.require_approval:
        report.approval_reasons.append(f"environment '{sides.name}' requires approval (requireApproval)")
    report.needs_approval = True
    if request.dry_run or not (request.approved and request.approved_plan_id in (None, report.plan_id)):
        report.outcome = "dry-run" if request.dry_run else "needs-approval"
        report.message = "Completing drops a database: " + "; ".join(report.approval_reasons)
        return report
    step = Steps(report, progress)
    replication = sides.replication
    with step("stop replication"):
        if state.reverse:
            replication.stop(sides.green_url, sides.blue_url, state.reverse)
        if state.active == "blue":
            replication.stop(sides.blue_url, sides.green_url, state.forward)
            if state.frozen_since:  # never switched: blue takes its writes again
                replication.unfreeze(sides.blue, sides.blue.database)
    with step(f"drop the {retired} database"):
        retired_server = parse_url(retired_url)
        replication.drop_database(retired_server, retired_server.database)
    if state.active == "blue":
        BlueGreenState.path(sides.project.dir, sides.name).unlink(missing_ok=True)
        report.message = f"Green was dropped; '{sides.name}' serves from blue as configured."
    else:
        state.phase, state.reverse = "completed", None
        sides.save("completed: blue retired")
        report.message = (
            f"Blue was dropped; '{sides.name}' serves from green ({redact(sides.green_url)}), which "
            f"`db-migrate url` prints. Point the environment's url at it in the settings when convenient."
        )
    return report


# ---- url and status ------------------------------------------------------------------------------------
class ActiveSide(BaseModel):
    """`db-migrate url`: the database an environment's applications use now."""

    environment: str
    active: Literal["blue", "green"] | None = Field(None, description="None: no blue-green deployment")
    url: str = Field(description="the active URL, with its password: for applications and deploy scripts")

    @property
    def exit_code(self) -> int:
        return 0


def active_url(request: TargetRequest) -> ActiveSide:
    """The URL applications and deploy scripts use now: green after a switch, else the configured one."""
    target = open_project(request).target
    return ActiveSide(environment=target.name, active=target.active, url=target.url)


def status(request: TargetRequest) -> BlueGreenStatus | None:
    """The deployment of the request's environment, with the replication lag measured now (None: none)."""
    project = open_project(request)
    if not BlueGreenState.path(project.dir, project.target.name).exists():
        return None  # the usual case, decided without a connection
    try:
        sides = Sides(request)
    except ConfigError:  # not a named environment, or a database without replication: no deployment
        return None
    state = sides.state
    if state is None:
        return None
    found = BlueGreenStatus(
        active=state.active,
        phase=state.phase,
        blue=redact(sides.blue_url),
        green=redact(sides.green_url),
        events=state.events[-10:],
    )
    direction = {"ready": ("blue -> green", sides.blue_url, state.forward)}.get(state.phase)
    if state.frozen_since:
        direction = None  # no replication: blue is frozen since the copy
    if state.phase == "switched" and state.reverse:
        direction = ("green -> blue", sides.green_url, state.reverse)
    if direction is not None:
        found.replicating = direction[0]
        try:
            with closing(open_engine(direction[1])) as engine:
                found.lag_bytes = sides.replication.lag_bytes(engine, direction[2])
        except MigrationError:  # the side is unreachable: status still answers, without the lag
            pass
    return found


def _replication_name(sides: Sides, direction: str) -> str:
    """Unique per environment and blue database: slots are server-wide, and two projects may both say `dev`."""
    blue = sides.blue
    digest = hashlib.sha256(f"{sides.name}|{blue.host}:{blue.port}/{blue.database}".encode()).hexdigest()[:8]
    return f"mm_bg_{direction}_{digest}"


def _plan_id(sides: Sides, action: str) -> str:
    state = sides.state
    return hashlib.sha256(f"{sides.name}|{action}|{state.green_database}|{state.phase}".encode()).hexdigest()[:16]
