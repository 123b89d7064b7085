"""The text of a run: a reason many migrations share (every MariaDB DDL migration runs outside a transaction for
the same reason) is said once, under the first migration that has it; a different reason is said too."""

from __future__ import annotations

from migration_manager.reports import MigrationRun, RunReport
from migration_manager.surfaces.text import run_blocks

SHARED = "DDL commits implicitly on this server: statement by statement"
OTHER = "statement 1 (CREATE INDEX CONCURRENTLY i ON t (c)) cannot run inside a transaction block"


def run(version: str, reason: str | None) -> MigrationRun:
    mode = "per-statement" if reason else "transaction"
    return MigrationRun(
        version=version, name=f"m{version}", direction="up", mode=mode, statements=[], mode_reason=reason
    )


def text(report: RunReport) -> str:
    return "\n".join(str(block) for block in run_blocks(report))


def test_a_shared_reason_is_said_once_and_each_other_reason_where_it_first_applies() -> None:
    migrations = [run("1", SHARED), run("2", SHARED), run("3", None), run("4", OTHER), run("5", SHARED)]
    report = RunReport(
        action="apply", environment="dev", database="mysql://x/db", plan_id="p", outcome="done", migrations=migrations
    )
    lines = text(report).splitlines()
    assert sum(SHARED in line for line in lines) == 1 and sum(OTHER in line for line in lines) == 1
    # Each is under the first migration that runs for that reason.
    assert SHARED in lines[lines.index(next(line for line in lines if "UP 1_m1" in line)) + 1]
    assert OTHER in lines[lines.index(next(line for line in lines if "UP 4_m4" in line)) + 1]
    assert sum(" UP " in f" {line}" for line in lines) == 5  # every migration still has its line
