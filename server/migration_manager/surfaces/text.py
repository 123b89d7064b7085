"""Plain-text presenters of the reports, written once for every surface: the MCP tools send their lines as they
are (dialogs, summaries), the terminal renderer passes a `paint` that escapes and colours them. One wording, two
looks, so the two can no longer drift apart (the MCP rollback plan once left out the archive tables).

A presenter returns blocks: lines, `Rows` (a table: rich draws it in the terminal, `lines_of` writes it as a header
and a line per row) and `Code` (SQL the terminal highlights; MCP leaves it to the structured report). A `limit`
makes the MCP summary of a long report: the first items that matter, and how many more there are."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..analysis.model import Finding
from ..reports import (
    AnalyzeReport,
    BackupReport,
    Check,
    MigrationRun,
    RollbackPlan,
    RunReport,
    StatusReport,
    TestReport,
    ValidateReport,
)

Paint = Callable[[str, str], str]  # (text, style) -> the text as shown; style "" is plain text


def plain(text: str, style: str = "") -> str:
    return text


@dataclass
class Rows:
    """A table of a report: the terminal draws it with rich, the MCP tools send it as lines (`lines_of`)."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    right: tuple[str, ...] = ()  # the columns aligned right (durations, counts)


@dataclass
class Code:
    """SQL or Python the terminal highlights (a probe, a safe rewrite, a watch query); the MCP summary leaves
    it out: the structured report carries it."""

    text: str
    lexer: str = "sql"
    indent: int = 6
    wrap: bool = True


Block = str | Rows | Code  # what a presenter returns: lines, tables and code where the terminal draws them


def lines_of(blocks: list[Block]) -> list[str]:
    """Blocks as plain lines: a table is its title, its header and one line per row; code is left out."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Code):
            continue
        if isinstance(block, str):
            lines.append(block)
        elif block.rows:
            lines.append(f"{block.title}:" if block.title else "")
            lines += ["  " + " | ".join(block.columns)] + ["  " + " | ".join(row) for row in block.rows]
    return lines


# ---- checks and findings (validate, analyze, a run, a test) ---------------------------------
def check_line(c: Check, paint: Paint = plain) -> str:
    mark = paint("✗", "red") if not c.ok else paint("⚠", "yellow") if c.warning else paint("✓", "green")
    return f"  {mark} {paint(c.name, '')}: {paint(c.detail, '')}"


def finding_lines(f: Finding, paint: Paint = plain) -> list[str]:
    """A finding: severity, rule, where, the message; then how sure, what the server said and the fix."""
    colour = {"danger": "red", "error": "red", "warning": "yellow"}.get(f.severity, "blue")
    where = f" {f.migration}" if f.migration else ""
    if f.migration and f.statement_index is not None:  # branch conflicts name a whole migration
        where += f" #{f.statement_index}"
    lines = [f"  {paint(f.severity, colour)} {paint(f.rule, 'bold')}{paint(where, '')}: {paint(f.message, '')}"]
    if f.confidence:
        lines.append(f"      ({paint(f.confidence, '')})")
    if f.server_check in ("confirmed", "not-confirmed"):  # "accepted" is said in the message
        lines.append(f"      server check: {paint(f'{f.server_check}: {f.server_message}', '')}")
    if f.recommendation and f.severity != "info":
        lines.append(f"      → {paint(f.recommendation, '')}")
    return lines


def findings_lines(findings: list[Finding], paint: Paint = plain, limit: int | None = None) -> list[str]:
    """Every finding; or (a summary) at most `limit` of those that are not mere information, errors and
    dangers first, and the count of each severity."""
    if limit is None:
        return [line for f in findings for line in finding_lines(f, paint)]
    notable = [f for f in findings if f.severity != "info"]
    shown = first_that_matter(notable, limit)
    lines = [line for f in shown for line in finding_lines(f, paint)] + more(len(notable), len(shown), "finding(s)")
    severities = Counter(f.severity for f in findings)
    return lines + (["  findings in all: " + ", ".join(f"{n} {s}" for s, n in severities.items())] if findings else [])


# ---- a run (apply, rollback, complete; planned or done) --------------------------------------
SHOWN_AT_EACH_END = 50  # statements of a long script a plan shows from its start and from its end
RUN_STATUS = {
    "applied": ("applied", "green"),
    "rolled-back": ("rolled back", "green"),
    "failed": ("FAILED", "red"),
    "planned": ("planned", "dim"),
}


def run_blocks(r: RunReport, paint: Paint = plain, limit: int | None = None) -> list[Block]:
    """A run: its versions, the rollback plan, each migration (at most `limit`, failures first) with its SQL
    when planned or failed, the findings, what needed approval, the backup and the outcome."""
    b = paint
    title = {"dry-run": f"Dry run of {r.action}", "needs-approval": f"Plan (approval needed) for {r.action}"}
    blocks: list[Block] = [
        f"{b(title.get(r.outcome, r.action.capitalize()), 'bold')} on {b(f'{r.environment} ({r.database})', '')}  "
        f"version {r.version_before or '(none)'} → {r.version_after or '(none)'}"
    ]
    if r.rollback_plan and (limit is None or r.outcome != "done"):  # a summary of a done run: what it did
        blocks += rollback_plan_lines(r.rollback_plan, paint, limit)
    shown = r.migrations if limit is None else first_that_matter(r.migrations, limit)
    explained: set[str] = set()  # a reason shared by many migrations (every MariaDB DDL one) is said once
    for run in shown:
        blocks += migration_lines(run, paint, explained)
        if r.outcome in ("dry-run", "needs-approval") or run.status == "failed":
            blocks += migration_sql(run, paint)
    blocks += more(len(r.migrations), len(shown), "migration(s)")
    if len(shown) < len(r.migrations):  # a summary that left some out says what they all did
        statuses = ", ".join(f"{n} {s}" for s, n in Counter(m.status for m in r.migrations).items())
        blocks.append(f"  in all: {len(r.migrations)} migration(s): {statuses}")
    blocks += findings_lines(r.findings, paint, limit)
    reasons = r.approval_reasons if limit is None else r.approval_reasons[:limit]
    blocks += [f"{b('approval:', 'yellow')} {b(reason, '')}" for reason in reasons]
    blocks += more(len(r.approval_reasons), len(reasons), "approval reason(s)")
    if r.backup_id:
        blocks.append(f"Backup: {r.backup_id}")
    if r.failure_recovery:
        blocks.append(f"{b('autoOnFailure:', 'bold')} {b(r.failure_recovery, '')}")
    blocks.append(b(r.message, {"failed": "red", "needs-approval": "yellow"}.get(r.outcome, "green")))
    if r.error:
        blocks.append(f"{b('Database state:', 'bold')} {b(r.error.state, '')}")
        blocks.append(f"{b('Next step:', 'bold')} {b(r.error.next_step, '')}")
    return blocks


def migration_lines(run: MigrationRun, paint: Paint = plain, explained: set[str] | None = None) -> list[str]:
    """One migration of a run: direction, mode, status and time; why it runs outside a transaction (unless that
    reason is in `explained`, the reasons already given above it: added to it); its strategy and what it archives."""
    took = f" in {run.duration_ms / 1000:.2f}s" if run.duration_ms is not None else ""
    source = f", DOWN from {run.script_source}" if run.script_source else ""
    empty = " (no statements: recorded, nothing runs)" if not run.statements and run.mode != "python" else ""
    lines = [
        f"  {run.direction.upper()} {run.version}_{paint(run.name, '')} {paint(f'[{run.mode}{source}]', '')} "
        f"{paint(*RUN_STATUS[run.status])}{took}{empty}"
    ]
    if run.mode_reason and run.mode_reason not in (explained or ()):
        lines.append(f"    outside a transaction: {paint(run.mode_reason, '')}")
        if explained is not None:
            explained.add(run.mode_reason)
    return lines + strategy_lines(run, paint) + archive_lines(run, paint)


def migration_sql(run: MigrationRun, paint: Paint = plain) -> list[Block]:
    """What a migration runs, as code (a transaction's BEGIN and COMMIT around it), and its statements' errors."""
    if run.python_source:
        return [Code(run.python_source, "python", indent=4, wrap=False)]
    text = script_text(run)
    if run.mode == "transaction":
        text = f"BEGIN;\n{text}\n-- + history row\nCOMMIT;"
    errors = [paint(f"    statement {s.index}: {s.error}", "red") for s in run.statements if s.error]
    return [Code(text, indent=4), *errors]


def script_text(run: MigrationRun) -> str:
    """The statements as they run; a long script shows its first and last SHOWN_AT_EACH_END only (a bulk load's
    400k INSERTs were minutes of highlighting that nobody reads)."""

    def text(statement) -> str:
        return _with_archive_sql(statement.sql, statement.index, run.archives) + ";"

    statements = run.statements
    if len(statements) <= 2 * SHOWN_AT_EACH_END:
        return "\n".join(map(text, statements))
    hidden = len(statements) - 2 * SHOWN_AT_EACH_END
    return "\n".join(
        [
            *map(text, statements[:SHOWN_AT_EACH_END]),
            f"-- ... {hidden:,} more statements, not shown (all in the file; --json lists each)",
            *map(text, statements[-SHOWN_AT_EACH_END:]),
        ]
    )


def _with_archive_sql(sql: str, index: int, archives: list) -> str:
    """A statement with the archive SQL the runner runs before it and the restore SQL after it."""
    before = [
        f"-- archive {s.target}\n" + ";\n".join(s.sql)
        for s in archives
        if s.action == "archive" and s.statement_index == index and s.sql
    ]
    after = [
        f"-- put back {s.target}\n" + ";\n".join(s.sql)
        for s in archives
        if s.action == "restore" and s.statement_index == index and s.sql
    ]
    return ";\n".join([*before, sql, *after])


# ---- analyze --------------------------------------------------------------------------------
def analyze_blocks(r: AnalyzeReport, paint: Paint = plain, limit: int | None = None) -> list[Block]:
    """Each pending migration (at most `limit`) with its statements, strategy and findings (their probe and
    safe rewrite as code), the performance impact, what needs approval and the next step."""
    b = paint
    counts = ", ".join(f"{n} {s}" for s, n in r.summary.items() if n) or "no findings"
    blocks: list[Block] = [
        f"{b('Analysis', 'bold')} of {len(r.migrations)} pending migration(s) on {b(r.environment, '')} "
        f"({b(f'{r.database}, {r.server_version}', '')}): {counts}"
    ]
    shown = r.migrations if limit is None else first_that_matter(r.migrations, limit)
    for m in shown:
        blocks.append(f"  {b(f'{m.version}_{m.name}', 'bold')} {b(f'[{m.mode}]', '')}")
        blocks += [
            f"    {s.index}. {b(s.sql.splitlines()[0][:110], '')}  {b(', '.join(s.operations), 'dim')}"
            for s in m.statements
        ]
        if m.strategy_refused:
            blocks.append(f"    {b('strategy refused:', 'red')} {b(m.strategy_refused, '')}")
        blocks += strategy_lines(m, paint)
        for f in m.findings:
            blocks += finding_lines(f, paint)
            if f.probe_sql and f.severity != "info":
                blocks.append(Code(f.probe_sql))
            if f.safe_rewrite and f.severity != "info":
                blocks += ["      safe rewrite:", Code(f.safe_rewrite)] if limit is None else []
    blocks += more(len(r.migrations), len(shown), "migration(s)")
    if r.impact:
        blocks += impact_blocks(r.impact, paint, limit)
    blocks += [f"{b('approval:', 'yellow')} {b(reason, '')}" for reason in r.approval_reasons]
    return blocks + [f"{b('Next:', 'bold')} {b(r.next_action, '')}"]


IMPACT_COLOUR = {"high": "red", "medium": "yellow", "low": "green"}


def impact_blocks(items: list, paint: Paint = plain, limit: int | None = None) -> list[Block]:
    """The performance impact: a row per statement (lock, what it blocks, rows, size, time, extra disk), then
    why for each that is not low or has advice, and how to watch its locks."""
    table = Rows(
        "Performance impact",
        ("statement", "lock", "blocks", "rows", "size", "est. time", "extra disk", "impact"),
    )
    shown = items if limit is None else sorted(items, key=lambda i: i.impact == "low")[:limit]
    for i in shown:
        size = "" if i.table_bytes is None else f"{(i.table_bytes + (i.index_bytes or 0)) / 1_048_576:,.1f} MB"
        table.rows.append(
            (
                f"{paint(f'{i.migration} #{i.statement_index}', '')} {paint(i.statement.splitlines()[0][:40], '')}",
                paint(f"{i.algorithm + ', ' if i.algorithm else ''}{i.lock}", ""),
                paint(i.blocks, ""),
                "" if i.rows is None else f"{i.rows:,}",
                size,
                f"{i.estimated_seconds:,.2f} s",
                f"{i.extra_disk_bytes / 1_048_576:,.1f} MB" if i.extra_disk_bytes else "",
                paint(i.impact, IMPACT_COLOUR[i.impact]),
            )
        )
    blocks: list[Block] = [table, *more(len(items), len(shown), "statement(s) in the impact table")]
    for i in items if limit is None else [i for i in shown if i.impact != "low"]:
        if i.impact == "low" and not i.recommendations:
            continue
        blocks.append(
            f"  {paint(f'{i.migration} #{i.statement_index}', '')} {paint(i.impact, IMPACT_COLOUR[i.impact])}: "
            f"{paint(f'{i.explanation} ({i.estimate_basis}, {i.server})', '')}"
        )
        blocks += [f"      → {paint(advice, '')}" for advice in i.recommendations]
        blocks += [f"      on {paint(f'{version}: {differs}', '')}" for version, differs in i.other_versions.items()]
        if i.impact != "low":
            blocks += ["      watch its locks while it runs:", Code(i.watch_query)] if limit is None else []
    return blocks


def strategy_lines(run, paint: Paint = plain) -> list[str]:
    """Per statement, the strategy it gets and why, and what `complete` runs later (online, shadow, auto)."""
    plan = run.strategy
    if plan is None or plan.strategy == "offline":
        return []
    if not plan.statements:
        return [f"    strategy {plan.strategy}: {paint(plan.note, '')}"] if plan.note else []
    lines = [f"    strategy {plan.strategy} ({paint(plan.chosen_by, '')}):"]
    for s in plan.statements:
        lines.append(f"      {s.index}. {s.how}: {paint(s.reason, '')}")
        lines += step_lock_lines(s, paint) if s.how != "as written" else []
    later = plan.phases()["complete"]
    if later:
        lines.append(f"    then `db-migrate complete {run.version}` runs: " + paint("; ".join(later), ""))
    return lines


def step_lock_lines(statement, paint: Paint = plain) -> list[str]:
    """Each step's predicted lock and stall (analysis/impact/steps.py), phase by phase."""
    lines = []
    for phase, steps in (("apply", statement.expand), ("complete", statement.complete)):
        for lock in (lock for step in steps for lock in step.locks):
            what = " ".join(lock.step.split())
            wait = {None: "the whole statement", 0: "none"}.get(lock.stall_ms, f"<= {lock.stall_ms} ms")
            queued = lock.queues_behind_transactions and not (lock.blocks_reads or lock.blocks_writes)
            lines.append(
                f"         {phase}: {what[:70]}{'…' if len(what) > 70 else ''} — {paint(lock.lock, '')}, "
                f"blocks {lock.blocks.split(';')[0].removesuffix(' (reads and writes go on)')}"
                f"{' while it runs, but queues behind open transactions' if queued else ''}; "
                f"stall {paint(wait, 'yellow' if lock.stall_ms != 0 else '')}"
            )
    return lines


# ---- validate -------------------------------------------------------------------------------
VERDICT = {
    "safe": ("Result: SAFE TO APPLY", "green"),
    "needs-review": (
        "Result: NEEDS REVIEW — the danger findings above fail or lose data as written; apply asks for approval",
        "yellow",
    ),
    "not-safe": ("Result: NOT SAFE — fix the items above", "red"),
}


def validate_lines(r: ValidateReport, paint: Paint = plain, limit: int | None = None) -> list[str]:
    """The checks, the findings (at most `limit`) and the verdict."""
    lines = [f"{paint('Validate', 'bold')} {paint(f'{r.environment} ({r.database})', '')}"]
    lines += [check_line(c, paint) for c in r.checks] + findings_lines(r.findings, paint, limit)
    return lines + [paint(*VERDICT[r.verdict])]


# ---- test (a rehearsal on a copy) -----------------------------------------------------------
def test_blocks(r: TestReport, paint: Paint = plain, limit: int | None = None) -> list[Block]:
    """The rehearsal: the copy, the versions it went through, each step and migration (at most `limit`
    migrations, failures first), the tables' rows and checksums, the checks, the notes and the outcome."""
    b = paint
    blocks: list[Block] = [
        f"{b(f'Test on a copy of {r.environment}', 'bold')} ({b(r.database, '')}, {b(r.server_version, '')})"
    ]
    if r.copy_name:
        blocks.append(f"Copy: {b(f'{r.copy_name} — {r.copy_method}', '')}")
    before = r.version_before or "(none)"
    blocks.append(f"Version {before} → {r.version_tested or '(not reached)'} → back to {before}")
    blocks.append(step_rows(r.steps, paint, "Steps"))
    shown = r.migrations if limit is None else first_that_matter(r.migrations, limit)
    migrations = Rows("Migrations", ("migration", "apply", "rollback", "error"), right=("apply", "rollback"))
    for m in shown:
        migrations.rows.append(
            (
                b(f"{m.version}_{m.name}", ""),
                seconds(m.apply_ms) if m.applied else b("not applied", "red"),
                seconds(m.rollback_ms) if m.rolled_back else b("—", "yellow"),
                b((m.error or "")[:80], ""),
            )
        )
    blocks += [migrations, *more(len(r.migrations), len(shown), "migration(s)")]
    if r.tables:
        blocks += _test_tables(r, paint, limit)
    blocks += [check_line(c, paint) for c in (r.checks if limit is None else first_that_matter(r.checks, limit))]
    blocks += [f"  {b('note:', 'yellow')} {b(note, '')}" for note in r.notes]
    dropped = "yes" if r.copy_dropped else b("NO", "red")
    blocks.append(f"Copy dropped: {dropped}   Total: {seconds(r.total_ms)}")
    colour = {"failed": "red", "passed": "green"}.get(r.outcome, "yellow")
    return blocks + [f"{b(r.outcome.upper(), 'bold ' + colour)} {b(r.message, '')}"]


test_blocks.__test__ = False  # a presenter, not a pytest test


def _test_tables(r: TestReport, paint: Paint, limit: int | None) -> list[Block]:
    table = Rows(
        "Tables (rows; ✓ = checksum equal to the original)",
        ("table", "touched", "rows before", "after apply", "after rollback"),
        right=("rows before", "after apply", "after rollback"),
    )

    def cell(rows: int | None, same: bool | None) -> str:
        mark = "" if same is None else " " + (paint("✓", "green") if same else paint("✗", "red"))
        return (paint("gone", "dim") if rows is None else f"{rows:,}") + mark

    shown = r.tables if limit is None else r.tables[:limit]
    for t in shown:
        table.rows.append(
            (
                paint(t.table, ""),
                "yes" if t.touched else "",
                f"{t.rows_before:,}",
                cell(t.rows_after_apply, t.unchanged_after_apply),
                cell(t.rows_after_rollback, t.restored_after_rollback),
            )
        )
    return [table, *more(len(r.tables), len(shown), "table(s)")]


def step_rows(steps: list, paint: Paint = plain, title: str = "") -> Rows:
    """The steps of a rehearsal or a deployment: done or failed, how long, what each did."""
    rows = Rows(title, ("", "step", "duration", "detail"), right=("duration",))
    for s in steps:
        mark = paint("✓", "green") if s.ok else paint("✗", "red")
        rows.rows.append((mark, paint(s.name, ""), seconds(s.duration_ms), paint(s.detail[:90], "")))
    return rows


def seconds(ms: int | None) -> str:
    return "" if ms is None else f"{ms / 1000:.3f}s"


# ---- backups -------------------------------------------------------------------------------
def backup_blocks(r: BackupReport, paint: Paint = plain, limit: int | None = None) -> list[Block]:
    """The backups (the newest `limit` of them; None: all), what needs approval, and the outcome."""
    table = Rows(
        f"Backups ({r.backup_dir})",
        ("id", "environment", "taken (UTC)", "version", "scope", "size", "expires (UTC)", "format"),
    )
    shown = r.backups if limit is None else r.backups[-limit:]
    for m in shown:
        scope = m.scope if m.scope == "whole" else f"tables: {', '.join(m.tables)}"
        table.rows.append(
            (
                m.id,
                paint(m.environment, ""),
                f"{m.created_at:%Y-%m-%d %H:%M:%S}",
                paint(m.version_before or "(none)", ""),
                paint(scope, ""),
                f"{m.size_bytes / 1_048_576:,.1f} MB",
                f"{m.expires_at:%Y-%m-%d %H:%M}",
                m.format,
            )
        )
    blocks: list[Block] = [table, *more(len(r.backups), len(shown), "backup(s)")]
    blocks += [f"{paint('approval:', 'yellow')} {paint(reason, '')}" for reason in r.approval_reasons]
    return blocks + [paint(r.message, "")]


# ---- status ---------------------------------------------------------------------------------
MARK = {
    "applied": ("✓", "green"),
    "pending": ("…", "yellow"),
    "dirty": ("✗ dirty", "red"),
    "missing-file": ("? file missing", "red"),
    "edited": ("✎ edited", "red"),
}


def status_blocks(
    r: StatusReport, paint: Paint = plain, rows: int | None = None, rest: str = "", limit: int | None = None
) -> list[Block]:
    """The status: the version and its state, the applied migrations (the newest `rows` of them and every
    older one with a problem; None: all; `rest` says where the others are), the pending ones (at most
    `limit`), what is dirty or waiting for `complete`, the problems and the next step."""
    b = paint
    lines: list[Block] = [
        f"{b('Environment', 'bold')} {b(r.environment, '')}  {b('Database', 'bold')} {b(r.database, '')}  "
        f"({b(r.server_version, '')})"
    ]
    if r.blue_green:
        bg = r.blue_green
        replicating = f", replicating {bg.replicating} (lag {bg.lag_bytes} bytes)" if bg.replicating else ""
        lines.append(f"{b('Blue-green', 'bold')} active: {b(f'{bg.active} ({bg.phase}{replicating})', '')}")
    version = f"unknown ({r.versions_unknown})" if r.versions_unknown else r.current_version or "(none)"
    lines.append(f"{b('Current version', 'bold')} {b(version, '')}   {b('Status', 'bold')} {_status_state(r, b)}")
    shown = applied_shown(r, rows)
    applied = Rows("Applied", ("", "version", "name", "applied at (UTC)", "duration", "author", "checksum", "rollback"))
    for m in shown:
        applied.rows.append(
            (
                b(*MARK[m.state]),
                b(m.version, ""),
                b(m.name + (" (no statements)" if m.no_statements else ""), ""),
                m.applied_at.strftime("%Y-%m-%d %H:%M:%S") if m.applied_at else "",
                f"{(m.duration_ms or 0) / 1000:.2f}s",
                b(m.author or "", ""),
                (m.checksum or "")[3:13],
                "yes" if m.can_roll_back else "no",
            )
        )
    lines.append(applied)
    if len(shown) < len(r.applied):
        lines.append(f"… {len(r.applied) - len(shown):,} older applied migration(s) not listed {rest}".rstrip())
    pending = Rows(f"Pending ({len(r.pending)})", ("version", "name", "format", "file", "has DOWN"))
    for m in r.pending[:limit]:
        name = m.name + (" (no statements)" if m.no_statements else "")
        pending.rows.append(
            (
                b(m.version, ""),
                b(name, ""),
                b(m.format or "", ""),
                b(m.file or "", ""),
                "yes" if m.can_roll_back else "no",
            )
        )
    lines += [pending, *more(len(r.pending), len(pending.rows), "pending migration(s)")]
    if r.dirty_detail:
        lines.append(_status_state(r, b, bold=True))
        lines.append(b(r.dirty_detail, ""))
    for m in r.waiting_for_complete:
        lines.append(
            f"{b('EXPANDED, waiting for complete:', 'yellow')} {b(f'{m.version}_{m.name} ({m.strategy})', '')}"
        )
        lines += [f"  the application must first: {b(must, '')}" for must in m.app_must]
        lines.append(f"  then: db-migrate complete {m.version}  ({len(m.complete)} step(s))")
    lines += [f"{b('!', 'red')} {b(problem, '')}" for problem in r.problems]
    lines.append(f"Rollback available: {r.rollback_available} migration(s)")
    return lines + [f"{b('Next:', 'bold')} {b(r.next_action, '')}"]


def _status_state(r: StatusReport, paint: Paint, bold: bool = False) -> str:
    """The one word for the environment's state; as the heading of the dirty detail (bold) it names only
    the unfinished states."""
    weight = "bold " if bold else ""
    if r.partly_restored and not r.in_progress:
        return paint("PARTLY RESTORED", weight + "red")
    if r.in_progress:
        return paint("IN PROGRESS", weight + "yellow")
    if r.dirty or bold:
        return paint("DIRTY", weight + "red")
    return paint("PENDING", "yellow") if r.pending else paint("UP TO DATE", "green")


def applied_shown(r: StatusReport, rows: int | None) -> list:
    """The newest `rows` applied migrations, and every older one that has a problem (dirty, edited, file
    missing): a long history must not hide what needs attention."""
    if rows is None or len(r.applied) <= rows:
        return r.applied
    return [m for m in r.applied[:-rows] if m.state != "applied"] + r.applied[-rows:]


def rollback_plan_lines(p: RollbackPlan, paint: Paint = plain, limit: int | None = None) -> list[str]:
    """The rollback plan: per migration whether it can roll back and what its DOWN destroys (and where it is
    archived first), the backup, the estimated time and the notes. `limit`: at most that many migrations, those
    that cannot roll back first (a tool's summary); None: every one (the terminal, the approval dialog)."""
    lines = [paint("Rollback plan", "bold") + (" " + paint("(EMERGENCY)", "red") if p.emergency else "")]
    steps = p.steps if limit is None else first_that_matter(p.steps, limit)
    for step in steps:
        verdict = paint("yes", "green") if step.can_roll_back else paint("no", "red")
        took = "" if step.estimated_seconds is None else f"  est. {duration(step.estimated_seconds)}"
        lines.append(
            f"  {paint(f'{step.version}_{step.name}', '')}  can roll back: {verdict} ({paint(step.why, '')}){took}"
        )
        for loss in step.destroys:
            kept = " " + paint(f"— archived first into {loss.archived_into}", "cyan") if loss.archived_into else ""
            lines.append(f"      {paint(loss.text, 'red')}{kept}")
    lines += more(len(p.steps), len(steps), "migration(s) in the plan")
    losses = sum(len(s.destroys) for s in p.steps)
    if limit is not None and losses:
        lines.append(
            f"  in all: {losses} statement(s) destroy data, in {sum(1 for s in p.steps if s.destroys)} migration(s)"
        )
    lines.append(_backup_line(p, paint))
    if p.estimated_seconds is not None:
        note = paint(p.estimate_note, "")
        lines.append(f"  Estimated time: {duration(p.estimated_seconds)} in total ({note})")
    return lines + [f"  {paint('note:', 'yellow')} {paint(note, '')}" for note in p.notes]


def _backup_line(p: RollbackPlan, paint: Paint) -> str:
    b = p.backup
    if not b.will_back_up:
        return f"  Backup first: {paint('no', 'yellow')} ({paint(b.why, '')})"
    what = "the whole database" if b.scope == "whole" else "tables " + ", ".join(b.tables) if b.tables else ""
    size = f" (~{size_text(b.estimated_bytes)} on disk)" if b.estimated_bytes is not None else ""
    return f"  Backup first: yes, {paint(what, '')}{size}: {paint(b.why, '')}"


def archive_lines(run: MigrationRun, paint: Paint = plain) -> list[str]:
    """What a run copies into archive tables before a destructive statement and puts back after the one that
    re-creates it (planned: future tense), and what it cannot archive."""
    planned = run.status == "planned"
    lines = []
    for s in run.archives:
        rows = f"{s.rows:,} rows" if s.rows is not None else f"~{s.rows_estimate or 0:,} rows"
        if s.action == "archive":
            verb = "archives" if planned else "archived"
            lines.append(
                f"    {paint(f'{verb} {rows}', 'cyan')} of {paint(s.target, '')} into {s.archive_table} before "
                f"statement {s.statement_index}"
            )
        elif s.action == "restore":
            verb = "puts back" if planned else "put back"
            lines.append(
                f"    {paint(f'{verb} {rows}', 'cyan')} of {paint(s.target, '')} from {s.archive_table} after "
                f"statement {s.statement_index}" + (f" ({paint(s.note, '')})" if s.note else "")
            )
        else:
            lines.append(f"    {paint('!', 'yellow')} {paint(s.note, '')}")
    return lines


def first_that_matter(items: list, keep: int) -> list:
    """`keep` items in their order: failures, refusals and dangers first, then the others from the start."""
    if len(items) <= keep:
        return items
    urgent = [i for i, item in enumerate(items) if matters(item)]
    chosen = set(urgent[:keep])
    chosen |= set(itertools.islice((i for i in range(len(items)) if i not in chosen), keep - len(chosen)))
    return [items[i] for i in sorted(chosen)]


def matters(item: object) -> bool:
    get = item.get if isinstance(item, dict) else lambda key: getattr(item, key, None)  # JSON or a report model
    return (
        get("status") == "failed"
        or get("ok") is False
        or get("can_roll_back") is False
        or get("severity") in ("error", "danger")
        or bool(get("error"))
    )


def more(total: int, shown: int, what: str) -> list[str]:
    return [f"  … and {total - shown} more {what} (in the structured result)"] if total > shown else []


def duration(seconds: float) -> str:
    if seconds < 0.01:
        return "under 0.01 s"
    return f"{seconds:,.2f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"


def size_text(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB" if size >= 1_048_576 else f"{size / 1024:,.0f} KB"
