"""Every report carries its exit code (the CLI only presents it): a failure's own code, 8 for a plan still
waiting for approval, 1 for a verdict that fails a CI job, 0 otherwise."""

from __future__ import annotations

import json

from migration_manager.errors import ConnectionLost, LockTimeout
from migration_manager.reports import (
    AnalyzeReport,
    BlueGreenReport,
    ErrorReport,
    OfflineReport,
    Report,
    RunReport,
    TestReport,
    ValidateReport,
)


def run_report(outcome: str, error: ErrorReport | None = None) -> RunReport:
    return RunReport(
        action="apply",
        environment="dev",
        database="sqlite:///x",
        plan_id="p",
        outcome=outcome,
        migrations=[],
        error=error,
    )


def test_a_failed_run_exits_with_its_failure_code() -> None:
    lost = ErrorReport.of(ConnectionLost("gone", state="dirty at 2", next_step="resolve"))
    assert run_report("failed", lost).exit_code == 3
    assert run_report("failed", ErrorReport.of(LockTimeout("held"))).exit_code == 7
    assert run_report("failed").exit_code == 9  # no error said: a statement failed
    assert run_report("needs-approval").exit_code == 8
    assert run_report("done").exit_code == run_report("dry-run").exit_code == 0


def test_the_error_keeps_its_json_shape() -> None:
    report = run_report("failed", ErrorReport.of(ConnectionLost("gone", state="dirty at 2", next_step="resolve")))
    assert json.loads(report.model_dump_json())["error"] == {
        "error": "connection_lost",
        "message": "gone",
        "state": "dirty at 2",
        "next_step": "resolve",
        "exit_code": 3,
    }
    assert "exit_code" not in json.loads(report.model_dump_json())  # the report's own code is not a field


def test_verdicts_that_fail_a_ci_job_exit_1() -> None:
    common = {"environment": "dev", "database": "d"}
    assert ValidateReport(**common, ok=False, checks=[]).exit_code == 1
    assert ValidateReport(**common, ok=True, checks=[]).exit_code == 0
    analyzed = {**common, "server_version": "1", "dialect": "sqlite", "migrations": []}
    assert AnalyzeReport(**analyzed, summary={"danger": 1}).exit_code == 1
    assert AnalyzeReport(**analyzed, summary={"warning": 2}).exit_code == 0
    assert TestReport(**common, server_version="1", outcome="failed").exit_code == 1


def test_deployment_reports_say_their_failure_as_a_run_does() -> None:
    """offline and blue-green reports carry the same ErrorReport and exit codes as RunReport."""
    lost = ErrorReport.of(ConnectionLost("gone", state="dirty at 2", next_step="resolve"))
    for report in (
        BlueGreenReport(action="switch", environment="dev", outcome="failed", error=lost),
        OfflineReport(environment="dev", database="d", outcome="failed", error=lost),
    ):
        assert isinstance(report, Report) and report.exit_code == run_report("failed", lost).exit_code == 3
        assert json.loads(report.model_dump_json())["error"] == json.loads(lost.model_dump_json())
        assert report.model_copy(update={"outcome": "failed", "error": None}).exit_code == 9
        assert report.model_copy(update={"outcome": "needs-approval"}).exit_code == 8
        assert report.model_copy(update={"outcome": "done"}).exit_code == 0
