"""Read-only use cases: status, validate, history; and create (writes a file, never the database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..analysis.model import Finding
from ..errors import ConfigError, HistoryConflict, MigrationError
from ..history import UNFINISHED_STATUSES, HistoryRow
from ..migrations.formats import version_key
from ..migrations.model import Migration
from ..migrations.plan import Plan, make_plan
from ..reports import Check, CreateReport, HistoryEvent, HistoryReport, MigrationInfo, StatusReport, ValidateReport
from ..requests import CreateRequest
from .backups import unfinished_restore
from .context import Progress, Project, TargetRequest, check_steps, connect, open_project
from .migrate import check_dirty, dirty_error, in_progress_error
from .safety import window_open
from .strategy_runs import resume_hint, waiting_for_complete
from .templates import TEMPLATES, check_file_name_fits, migration_name


def history(request: TargetRequest, limit: int = 100) -> HistoryReport:
    project = open_project(request)
    with connect(project, lock=False) as conn:
        rows = conn.history.rows()
        events = conn.history.events(limit)
        plan = make_plan(project.read_each()[0], rows)
    ordered = sorted(rows.values(), key=lambda r: version_key(r.version))
    infos = [_dirty_info(r) if r.dirty else _applied_info(r, plan) for r in ordered]
    return HistoryReport(
        environment=project.target.name,
        database=project.target.display_url,
        rows=infos,
        events=[HistoryEvent(**e) for e in events],
    )


def _blue_green(request: TargetRequest):
    from ..strategies.blue_green import status as deployment  # only a blue-green project reads further

    return deployment(request)


def status(request: TargetRequest) -> StatusReport:
    project = open_project(request)
    migrations, file_errors = project.read_each()  # a broken file is a problem to show, not a reason to fail
    with connect(project, lock=False) as conn:
        plan = make_plan(migrations, conn.history.rows())
        version = conn.engine.server_version()
        restoring = unfinished_restore(conn)
        if restoring is not None:  # ask again knowing who holds the lock: a restore running now is not a dead one
            holder = _lock_holder(conn)
            restoring = unfinished_restore(conn, holder) if holder else restoring
        else:
            holder = _running_holder(conn, plan)
        check = check_dirty(conn, plan, plan.dirty[0]) if plan.dirty and not holder and not restoring else None
        expanded = waiting_for_complete(conn, plan.applied)
        resume = resume_hint(conn, plan.dirty[0]) if plan.dirty and not holder else None
        shadows = _shadow_leftovers(conn, expecting_swapped=bool(expanded))
    if restoring:  # the history was read from half a database: withhold every version it would list
        plan = make_plan([], {})
    leftovers = _leftover_copies(project.target.url)
    applied = [_applied_info(row, plan) for row in plan.applied]
    pending = [_pending_info(m, project) for m in plan.pending]
    dirty = [_dirty_info(row) for row in plan.dirty]
    error = restoring or (
        (in_progress_error(plan.dirty[0], holder) if holder else dirty_error(plan.dirty[0], check))
        if plan.dirty
        else None
    )
    detail = error.explain() if error else None
    return StatusReport(
        environment=project.target.name,
        database=project.target.display_url,
        server_version=version,
        current_version=plan.current_version,
        applied=applied + dirty,
        pending=pending,
        dirty=bool(plan.dirty or restoring),
        dirty_detail=detail,
        partly_restored=restoring is not None,
        versions_unknown=VERSIONS_UNKNOWN if restoring else None,
        problems=[e.message for e in file_errors]
        + _problems(plan)
        + [
            f"{name} is a copy left by a killed `db-migrate test` (its process is gone): the next test drops it"
            for name in leftovers
        ]
        + shadows,
        leftover_copies=leftovers,
        rollback_available=_rollback_depth(plan),
        waiting_for_complete=expanded,
        blue_green=_blue_green(request),
        in_progress=bool(holder),
        lock_holder=holder,
        maintenance_window=project.target.maintenance_window,
        window_open=_window_open(project),
        next_action=error.next_step
        if holder or restoring
        else resume or (_next_action(plan) if plan.dirty or plan.pending or not expanded else expanded[0].command),
    )


VERSIONS_UNKNOWN = (
    "the history table is being restored and only part of it is loaded: which migrations are "
    "applied or pending is not known until the restore completes"
)


def _running_holder(conn, plan: Plan) -> str | None:
    """Who holds the lock while the history says a run is going on (None: nobody, so that run died)."""
    if not plan.dirty or plan.dirty[0].status not in UNFINISHED_STATUSES:
        return None
    return _lock_holder(conn)


def _leftover_copies(url: str) -> list[str]:
    from .. import clone

    try:
        return clone.orphaned_copies(url)
    except Exception:  # noqa: BLE001 - advisory: no privilege to list databases must not fail status
        return []


def _shadow_leftovers(conn, expecting_swapped: bool) -> list[str]:
    """Triggers and tables of shadow changes no run is working on, with the command that clears them (a swapped
    one is expected while its migration waits for complete)."""
    try:
        from ..strategies import shadow

        found = shadow.leftovers(conn.engine)
    except Exception:  # noqa: BLE001 - advisory (and SQLite has no shadow copies): never fails status
        return []
    return [
        f"a shadow change of {left.table} is {left.phase} ({', '.join(left.objects)}): {left.clears}"
        for left in found
        if not (left.phase == "swapped" and expecting_swapped)
    ]


def _lock_holder(conn) -> str | None:
    try:
        return conn.engine.lock_holder(conn.lock_name)
    except Exception:  # noqa: BLE001 - no privilege to see other sessions: fall back to the dirty report
        return None


def validate(request: TargetRequest, progress: Progress | None = None) -> ValidateReport:
    step = check_steps(
        progress,
        [
            "reading the migration files",
            "checking the SQL syntax",
            "reading the history",
            "replaying the pending migrations on the live schema",
            "running the rules",
        ],
    )
    project = open_project(request)
    step()
    migrations, errors = project.read_each()
    checks = [
        Check(
            name="files parse",
            ok=not errors,
            detail="; ".join(e.message for e in errors)
            or f"{len(migrations)} migration file(s) read" + _without_statements(migrations),
        )
    ]
    checks.append(_unique_versions(migrations))
    step()
    checks.append(_syntax(migrations, project.dialect, len(errors)))
    checks.append(_downs(migrations, len(errors)))
    findings: list[Finding] = []
    try:
        step()
        with connect(project, lock=False) as conn:
            plan = make_plan(migrations, conn.history.rows())
            checks += _history_checks(plan)
            from .safety import findings_for, schema_findings

            step()
            findings = schema_findings(conn, plan, plan.pending)
            checks.append(_schema_check(findings, len(plan.pending), conn.project.settings.validation.preCheck))
            step()
            findings += findings_for(conn, plan.pending, "up")
    except HistoryConflict as exc:  # History.verify: historyTable names a table that is not a history table
        checks.append(Check(name="history table", ok=False, detail=f"{exc.message} {exc.next_step}"))
    except MigrationError as exc:
        checks.append(Check(name="database reachable", ok=False, detail=exc.message))
    ok = all(c.ok for c in checks) and not any(f.severity == "error" for f in findings)
    return ValidateReport(
        environment=project.target.name, database=project.target.display_url, ok=ok, checks=checks, findings=findings
    )


def create(request: CreateRequest) -> CreateReport:
    project = open_project(request)
    name = migration_name(request.name)
    template = TEMPLATES.get(request.format)
    if template is None:
        raise ConfigError(
            f"Unknown migration format '{request.format}'.", next_step=f"Use one of {', '.join(TEMPLATES)}."
        )
    project.migrations_dir.mkdir(parents=True, exist_ok=True)
    version = _new_version(project)
    path = project.migrations_dir / f"{version}_{name}.{template.suffix}"
    check_file_name_fits(path.name, project.migrations_dir)
    if (request.up or request.down) and request.format != "sql":
        raise ConfigError("up/down SQL can only be given for the sql format.", next_step="Use format='sql'.")
    text = template.text.format(
        name=name, author=project.author(), created=datetime.now(UTC).isoformat(timespec="seconds")
    )
    if request.up:
        text = text.replace("  -- Your SQL here", _indent(request.up))
    if request.down:
        text = text.replace("  -- Rollback SQL here", _indent(request.down))
    path.write_text(text)
    return CreateReport(version=version, name=name, path=str(path), format=request.format)


def _indent(sql: str) -> str:
    body = sql.strip()
    body = body if body.endswith(";") else body + ";"
    return "\n".join("  " + line if line.strip() else line for line in body.splitlines())


def _new_version(project: Project) -> str:
    """A UTC timestamp, bumped past the newest existing version so order is always creation order."""
    version = int(datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    # From file names, not by parsing: a just-created file (empty UP) does not parse yet, and two
    # `create` in the same second must still get two versions.
    existing = [found[1] for path in project.migrations_dir.iterdir() if (found := re.match(r"(\d+)_", path.name))]
    newest = max((int(v) for v in existing), default=0)
    return str(max(version, newest + 1))


# ---- checks ------------------------------------------------------------------------------
def _unique_versions(migrations: list[Migration]) -> Check:
    seen: dict[tuple, str] = {}
    clashes = []
    for m in migrations:
        key = version_key(m.version)
        if key in seen:
            clashes.append(f"{seen[key]} and {m.path.name} share version {m.version}")
        seen[key] = m.path.name
    return Check(name="versions unique", ok=not clashes, detail="; ".join(clashes) or "ok")


def _syntax(migrations: list[Migration], dialect: str, unreadable: int) -> Check:
    from ..migrations.syntax import syntax_problems

    # A DOWN of its own file (golang-migrate's .down.sql, Flyway's U__) is named as that file: its line is counted there.
    problems = [
        f"{(m.down_path if p.direction == 'down' and m.down_path else m.path).name}: {p.describe()}"
        for m in migrations
        for p in syntax_problems(m, dialect)
    ]
    if unreadable:  # their SQL was never read: it cannot be said to parse
        problems.append(_not_checked(unreadable))
    return Check(name=f"SQL parses ({dialect})", ok=not problems, detail="; ".join(problems) or "ok")


def _downs(migrations: list[Migration], unreadable: int) -> Check:
    """A migration without a DOWN may be intended (`-- irreversible`), so it warns rather than fails."""
    missing = [
        f"{m.label}: "
        + (
            "declared irreversible" + (f" ({m.irreversible})" if m.irreversible else "")
            if m.irreversible is not None
            else "no DOWN"
        )
        + " (rollback impossible)"
        for m in migrations
        if not m.can_roll_back
    ]
    if unreadable:
        missing.append(_not_checked(unreadable))
    return Check(
        name="every migration has a DOWN", ok=True, warning=bool(missing), detail="; ".join(missing) or "all have one"
    )


def _not_checked(unreadable: int) -> str:
    return f"not checked in the {unreadable} file(s) that could not be read (see files parse)"


def _schema_check(findings: list[Finding], pending: int, enabled: bool) -> Check:
    if not enabled:
        return Check(name="schema-aware simulation", ok=True, detail="off (validation.preCheck is false)")
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    return Check(
        name="schema-aware simulation",
        ok=not errors,
        detail=f"{pending} pending migration(s) replayed on the live schema: {errors} error(s), "
        f"{warnings} other finding(s)",
    )


def _history_checks(plan: Plan) -> list[Check]:
    return [
        Check(
            name="no edited applied migration",
            ok=not plan.edited,
            detail="; ".join(
                f"{m.path.name}: checksum {r.checksum[:15]}… recorded, {m.checksum[:15]}… on disk"
                for m, r in plan.edited
            )
            or "ok",
        ),
        Check(
            name="no applied migration missing on disk",
            ok=not plan.missing,
            detail=", ".join(f"{r.version}_{r.name}" for r in plan.missing) or "ok",
        ),
        Check(
            name="no conflicting heads (out-of-order pending)",
            ok=not plan.out_of_order,
            detail=", ".join(m.label for m in plan.out_of_order) or "ok",
        ),
        Check(
            name="not dirty", ok=not plan.dirty, detail="; ".join(dirty_error(r).message for r in plan.dirty) or "ok"
        ),
    ]


def _without_statements(migrations: list[Migration]) -> str:
    """An UP without statements is valid (recorded, runs nothing): said, not refused."""
    empty = [m.label for m in migrations if m.up.is_empty]
    return f"; without statements (recorded, nothing runs): {', '.join(empty)}" if empty else ""


# ---- status helpers ----------------------------------------------------------------------
def _applied_info(row: HistoryRow, plan: Plan) -> MigrationInfo:
    migration = plan.file_for(row.version)
    edited = migration is not None and migration.checksum != row.checksum
    return MigrationInfo(
        version=row.version,
        name=row.name,
        state="missing-file" if migration is None else "edited" if edited else "applied",
        format=migration.format if migration else None,
        file=migration.path.name if migration else None,
        applied_at=row.applied_at,
        duration_ms=row.duration_ms,
        author=row.author,
        checksum=row.checksum,
        can_roll_back=bool((migration and migration.can_roll_back) or row.down_script),
        status=row.status,
        no_statements=migration is not None and migration.up.is_empty,
    )


def _pending_info(migration: Migration, project: Project) -> MigrationInfo:
    return MigrationInfo(
        version=migration.version,
        name=migration.name,
        state="pending",
        format=migration.format,
        file=migration.path.name,
        author=migration.author,
        checksum=migration.checksum,
        can_roll_back=migration.can_roll_back,
        no_statements=migration.up.is_empty,
    )


def _dirty_info(row: HistoryRow) -> MigrationInfo:
    return MigrationInfo(
        version=row.version,
        name=row.name,
        state="dirty",
        applied_at=row.applied_at,
        status=row.status,
        statements_done=row.statements_done,
        statements_total=row.statements_total,
        error=row.error,
        checksum=row.checksum,
    )


def _rollback_depth(plan: Plan) -> int:
    depth = 0
    for row in reversed(plan.applied):
        migration = plan.file_for(row.version)
        if not ((migration and migration.can_roll_back) or row.down_script):
            break
        depth += 1
    return depth


def _problems(plan: Plan) -> list[str]:
    problems = [f"{m.path.name} was edited after it was applied (checksum differs)" for m, _ in plan.edited]
    problems += [f"{r.version}_{r.name} is applied but its file is missing" for r in plan.missing]
    problems += [f"{m.label} is pending but older than the current version (out of order)" for m in plan.out_of_order]
    return problems


def _window_open(project: Project) -> bool | None:
    """The maintenance window's state for the status; a window that is not understood is said by the commands it
    would stop (apply, rollback, resolve, baseline), not by status, which still answers."""
    try:
        return window_open(project.target)
    except ConfigError:
        return None


def _next_action(plan: Plan) -> str:
    if plan.dirty:
        return f"Resolve the dirty migration: db-migrate resolve {plan.dirty[0].version} --retry (see dirty_detail)"
    if plan.edited or plan.missing:
        return "Fix the problems listed, then db-migrate validate"
    if plan.pending:
        return "db-migrate validate, then db-migrate apply --dry-run, then db-migrate apply"
    return "Up to date. Create the next migration with db-migrate create NAME"
