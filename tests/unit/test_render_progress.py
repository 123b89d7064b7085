"""The checks' progress bar on a terminal: drawn only once the checks have taken CHECKS_SHOWN_AFTER_S (a quick run
never flashes one), gone when the run's own lines or the report come."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from migration_manager.service.context import ProgressEvent
from migration_manager.surfaces.cli import render


def terminal_renderer() -> tuple[render.Renderer, io.StringIO]:
    screen = io.StringIO()
    return render.Renderer(json_output=False, err=Console(file=screen, force_terminal=True, width=120)), screen


def check(index: int, name: str) -> ProgressEvent:
    return ProgressEvent(phase="check", message=name, migration_index=index, migration_total=5)


def test_checks_quicker_than_the_delay_draw_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "CHECKS_SHOWN_AFTER_S", 3600.0)
    renderer, screen = terminal_renderer()
    renderer.progress(check(1, "reading the migration files"))
    renderer.progress(check(2, "reading the history"))
    renderer._checking.refresh()
    renderer._end_checking()
    assert "reading" not in screen.getvalue() and "1/5" not in screen.getvalue()


def test_checks_past_the_delay_show_the_bar_until_the_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "CHECKS_SHOWN_AFTER_S", 0.0)
    renderer, screen = terminal_renderer()
    renderer.progress(check(4, "replaying the pending migrations on the live schema"))
    renderer._checking.refresh()
    assert "replaying the pending migrations on the live schema" in screen.getvalue() and "3/5" in screen.getvalue()
    renderer.progress(
        ProgressEvent(phase="migration", message="applying 1_bulk_load", migration_index=1, migration_total=1)
    )
    assert renderer._checking is None  # stopped (and cleared: transient) before the run's first line
    assert screen.getvalue().rstrip().endswith("applying 1_bulk_load")
