"""Terminal rendering of reports with rich (or JSON with --json). No logic: reports carry the facts."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ...errors import MigrationError
from ...reports import (
    AnalyzeReport,
    BackupReport,
    CompareReport,
    CreateReport,
    HistoryReport,
    RestoreReport,
    RunReport,
    StatusReport,
    TestReport,
    ValidateReport,
)
from ..text import MARK as STATE_MARKS
from ..text import (
    Block,
    Code,
    Rows,
    analyze_blocks,
    backup_blocks,
    run_blocks,
    status_blocks,
    step_rows,
    test_blocks,
    validate_lines,
)

MARK = {state: f"[{style}]{mark}[/]" for state, (mark, style) in STATE_MARKS.items()}


CHECKS_SHOWN_AFTER_S = 1.0  # the checks' progress bar appears only for checks that take longer


def _checks_bar(console: Console) -> Any:
    """A transient progress bar that draws nothing until it has run CHECKS_SHOWN_AFTER_S: rich redraws it ten
    times a second, so it appears then without waiting for the next check. (rich.progress is imported here:
    most commands never draw one.)"""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    class LateProgress(Progress):
        def get_renderables(self):
            if any((task.elapsed or 0.0) >= CHECKS_SHOWN_AFTER_S for task in self.tasks):
                yield from super().get_renderables()

    return LateProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _syntax(code: str, lexer: str, **options: Any):
    """rich's Syntax, imported when SQL is shown: it loads pygments (~15 ms), which most commands never use."""
    from rich.syntax import Syntax

    return Syntax(code, lexer, **options)


class Renderer:
    def __init__(self, json_output: bool, err: Console | None = None) -> None:
        self.json = json_output
        # Piped output (CI logs, the demo) gets a wide page instead of rich's 80-column default.
        width = None if sys.stdout.isatty() else 130
        # emoji=False: rich would show a ':smile:' in the SQL or a server message as an emoji, not as written (and
        # loads its emoji table, ~4 ms, on the first line printed).
        self.out = Console(highlight=False, emoji=False, width=width)
        self.err = err or Console(stderr=True, highlight=False, emoji=False, width=None if sys.stderr.isatty() else 130)
        # Asked once: rich works it out anew on every call (~13 us), and an apply asks for every progress line.
        self.err_is_terminal = self.err.is_terminal
        self.status_rows: int | None = None  # applied rows `status` lists (the newest); None: all
        self._checking: Any = None  # the rich progress bar of validate's checks while they run

    # ---- generic -----------------------------------------------------------------------
    def show(self, report: BaseModel) -> None:
        self._end_checking()
        if self.json:
            print(report.model_dump_json(indent=2))
            return
        handler = {
            HistoryReport: self._history,
            StatusReport: self._status,
            ValidateReport: self._validate,
            RunReport: self._run,
            CreateReport: self._create,
            CompareReport: self._compare,
            BackupReport: self._backups,
            RestoreReport: self._restore,
            TestReport: self._test,
            AnalyzeReport: self._analyze,
        }.get(type(report))
        if handler is None and type(report).__name__ in ("OfflineReport", "BlueGreenReport"):
            handler = self._deployment  # strategies/offline.py, strategies/blue_green.py
        if handler:
            handler(report)
        else:  # reports of other areas: readable JSON is better than nothing
            self.out.print_json(report.model_dump_json())

    def error(self, exc: MigrationError) -> None:
        self._end_checking()
        if self.json:
            import json

            print(json.dumps(exc.to_dict(), indent=2))
            return
        self.err.print(f"[bold red]Error ({exc.kind}):[/] ", end="")
        self.err.print(exc.message, markup=False)
        if exc.state:
            self.err.print("[bold]Database state:[/] ", end="")
            self.err.print(exc.state, markup=False)
        if exc.next_step:
            self.err.print("[bold]Next step:[/] ", end="")
            self.err.print(exc.next_step, markup=False)

    def plain(self, text: str) -> None:
        (self.err if self.json else self.out).print(text, markup=False)

    def confirm(self, question: str) -> bool:
        if not sys.stdin.isatty():
            return False
        answer = self.err.input(f"[bold]{question}[/] [y/N]: ")
        return answer.strip().lower() in ("y", "yes")

    def progress(self, event: Any) -> None:
        if self.json:
            return
        try:
            self._progress(event)
        except OSError:  # a closed terminal or pipe must never interrupt a running migration
            pass

    def _progress(self, event: Any) -> None:
        if event.phase == "check":
            self._check_progress(event)
            return
        if event.phase == "batch":
            self._batch_progress(event)
            return
        self._end_checking()  # the checks are over: the run's lines follow
        if event.phase == "statement":
            text = f"    {event.statement_index}/{event.statement_total} {event.message}"
        else:
            where = f"[{event.migration_index}/{event.migration_total}] " if event.migration_total else ""
            text = f"  → {where}{event.message}"
        if not self.err_is_terminal:
            # A log or a pipe gets plain lines: rich's rendering costs ~0.2 ms a line, which an apply
            # of many small migrations would spend on progress alone.
            self.err.file.write(text + "\n")
        else:
            self.err.print(text, style="dim" if event.phase == "statement" else None, markup=False)

    def _check_progress(self, event: Any) -> None:
        """The checks of validate and apply (seconds each on a file of 400k statements) as a bar on a terminal,
        shown once they have taken CHECKS_SHOWN_AFTER_S (a quick run never flashes one), gone when done."""
        if not self.err_is_terminal:
            return
        task = self._bar_task(event.migration_total)
        self._checking.update(task, completed=event.migration_index - 1, description=event.message)

    def _batch_progress(self, event: Any) -> None:
        """A backfill or a shadow copy (many batches): a bar on a terminal, a line per tenth of the rows elsewhere."""
        if not self.err_is_terminal:
            tenth = 10 * event.statement_index // max(event.statement_total, 1)
            if tenth != getattr(self, "_batch_tenth", None):
                self._batch_tenth = tenth
                self.err.file.write(f"    {event.message}\n")
            return
        task = self._bar_task(event.statement_total)
        self._checking.update(
            task, completed=event.statement_index, total=event.statement_total, description=event.message
        )

    def _bar_task(self, total: int) -> Any:
        """The task of the progress bar, the bar started on the first event (one bar at a time)."""
        if self._checking is None:
            self._checking = _checks_bar(self.err)
            self._checking.add_task("", total=total)
            self._checking.start()
        return self._checking.task_ids[0]

    def _end_checking(self) -> None:
        if self._checking is not None:
            self._checking.stop()
            self._checking = None

    # ---- per report ----------------------------------------------------------------------
    def _status(self, r: StatusReport) -> None:
        self._blocks(status_blocks(r, _paint, self.status_rows, "(db-migrate status --all, or --json)"))

    def _blocks(self, blocks: list[Block]) -> None:
        """A shared presenter's lines (already painted) and its tables, drawn with rich."""
        lines: list[str] = []  # printed together: one rich call per line costs ~0.2 ms (many migrations)
        for block in blocks:
            if isinstance(block, str):
                lines.append(block)
                continue
            self._print_lines(lines)
            lines = []
            if isinstance(block, Code):
                self.out.print(_syntax(block.text, block.lexer, padding=(0, block.indent), word_wrap=block.wrap))
            elif block.rows:
                self.out.print(_table(block))
        self._print_lines(lines)

    def _history(self, r: HistoryReport) -> None:
        self.out.print(f"[bold]History[/] {r.environment} ({r.database}): {len(r.rows)} row(s)")
        for m in r.rows:
            self.out.print(
                f"  {MARK[m.state]} {m.version}_{m.name}  {m.status}  "
                f"{m.applied_at:%Y-%m-%d %H:%M:%S}  {m.author or ''}"
            )
        table = Table(title="Event log (newest first)", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("#", "at (UTC)", "action", "outcome", "migration", "duration", "author", "detail"):
            table.add_column(column)
        for e in r.events:
            table.add_row(
                str(e.id),
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.action,
                e.outcome,
                f"{e.version}_{e.name or ''}",
                f"{(e.duration_ms or 0) / 1000:.2f}s",
                e.author or "",
                (e.detail or "")[:60],
            )
        self.out.print(table)

    def _validate(self, r: ValidateReport) -> None:
        self._blocks(validate_lines(r, _paint))

    def _run(self, r: RunReport) -> None:
        self._blocks(run_blocks(r, _paint))

    def _print_lines(self, lines: list[str]) -> None:
        if lines:
            self.out.print("\n".join(lines))

    def _analyze(self, r: AnalyzeReport) -> None:
        self._blocks(analyze_blocks(r, _paint))

    def _create(self, r: CreateReport) -> None:
        self.out.print(
            f"Created [bold]{r.path}[/] (version {r.version}, {r.format}). Write the UP and DOWN, "
            "then run db-migrate validate."
        )

    def _compare(self, r: CompareReport) -> None:
        table = Table(title="Environment comparison", title_justify="left")
        table.add_column("migration")
        for env in r.environments:
            table.add_column(env)
        for row in r.rows:
            table.add_row(
                f"{row.version}_{row.name}", *(MARK.get(row.states[e], row.states[e]) for e in r.environments)
            )
        self.out.print(table)
        for env, message in r.errors.items():
            self.out.print(f"[red]{env}: {message}[/]")
        for line in r.summary:
            self.out.print(f"  {line}")

    def _backups(self, r: BackupReport) -> None:
        self._blocks(backup_blocks(r, _paint))

    def _restore(self, r: RestoreReport) -> None:
        self.out.print(
            f"[bold]Restore[/] into {r.environment} ({r.database})  version {r.version_before or '(none)'}"
            f" → {r.version_after or r.backup and r.backup.version_before or '(none)'}"
        )
        if r.backup:
            b = r.backup
            self.out.print(
                f"  backup {b.id}: taken {b.created_at:%Y-%m-%d %H:%M:%S} UTC on {b.environment}, {b.scope}"
                f"{' (' + ', '.join(b.tables) + ')' if b.tables else ''}, {b.size_bytes:,} bytes, "
                f"sha256 {'verified' if r.checksum_verified else 'NOT verified'}",
                markup=False,
            )
        for index, step in enumerate(r.steps, start=1):
            self.out.print(f"  {index}. {step}", markup=False)
        for reason in r.approval_reasons:
            self.out.print(f"[yellow]approval:[/] {reason}")
        colour = {"failed": "red", "needs-approval": "yellow", "manual-steps": "yellow"}.get(r.outcome, "green")
        self.out.print(f"[{colour}]{r.message}[/]" + (f" ({r.duration_ms / 1000:.1f}s)" if r.duration_ms else ""))

    def _deployment(self, r: Any) -> None:
        """offline and blue-green: each step with its time, the checks, then the outcome (downtime, freeze)."""
        self.out.print(f"[bold]{r.action}[/] on {r.environment}", markup=True)
        if r.steps:
            self.out.print(_table(step_rows(r.steps, _paint)))
        for c in r.checks:
            mark = "[yellow]⚠[/]" if c.warning else "[green]✓[/]" if c.ok else "[red]✗[/]"
            self.out.print(f"  {mark} {escape(c.name)}: {escape(c.detail)}")
        colour = {"failed": "red", "needs-approval": "yellow"}.get(r.outcome, "green")
        self.out.print(f"[{colour}]{escape(r.message)}[/]")
        if r.error:
            self.out.print(f"[bold]Database state:[/] {escape(r.error.state)}")
            self.out.print(f"[bold]Next step:[/] {escape(r.error.next_step)}")

    def _test(self, r: TestReport) -> None:
        self._blocks(test_blocks(r, _paint))


def _table(rows: Rows) -> Table:
    table = Table(title=rows.title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in rows.columns:
        table.add_column(column, justify="right" if column in rows.right else "left")
    for row in rows.rows:
        table.add_row(*row)
    return table


def _paint(text: str, style: str) -> str:
    """The shared presenters' text as rich markup: escaped, and coloured where they say."""
    return f"[{style}]{escape(text)}[/]" if style else escape(text)
