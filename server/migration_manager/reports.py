"""Reports: the one truth every surface shows (CLI tables, --json, MCP structured output)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .analysis.impact import StatementImpact
from .analysis.model import Finding
from .archive import ArchiveStep
from .errors import ApprovalRequired, MigrationError, StatementFailed
from .strategies.model import StrategyPlan


class Report(BaseModel):
    """Every report knows the exit code it means, so a surface only presents it (not serialized: the code is the
    CLI's, the report's fields say the same)."""

    # A report's validator and serializer are built when the report is first made or dumped, not at import: a
    # command makes one of the ~12 (a run's parts are built at import, once, and shared by the reports; the others'
    # parts are ReportParts).
    model_config = ConfigDict(defer_build=True)

    @property
    def exit_code(self) -> int:
        return 0


class ReportPart(BaseModel):
    """A part of the reports of status, validate, test, analyze, compare, history and the deployments (a row, a
    check, a step): built when first made or when its report is, not at import by every command (apply built the
    ~13 of them for nothing, ~0.3 ms each). The parts of a run (MigrationRun...) are built at import: every run
    makes them."""

    model_config = ConfigDict(defer_build=True)


class ErrorReport(BaseModel):
    """Why a run failed, as a MigrationError says it: the kind, what happened, the database's state, the next step."""

    error: str = Field(description="the kind, e.g. statement_failed, lock_timeout, validation_failed")
    message: str
    state: str = ""
    next_step: str = ""
    exit_code: int = Field(StatementFailed.exit_code, description="the CLI's exit code for this failure")

    @classmethod
    def of(cls, exc: MigrationError) -> ErrorReport:
        return cls(
            error=exc.kind, message=exc.message, state=exc.state, next_step=exc.next_step, exit_code=exc.exit_code
        )


def outcome_exit_code(outcome: str, error: ErrorReport | None = None) -> int:
    """A failure's own code (9: a statement failed, 3: the connection was lost...), 8: approval still missing."""
    if outcome == "failed":
        return error.exit_code if error else StatementFailed.exit_code
    return ApprovalRequired.exit_code if outcome == "needs-approval" else 0


Outcome = Literal["dry-run", "done", "nothing-to-do", "needs-approval", "failed"]
RunError = Annotated[
    ErrorReport | None,
    Field(description="error (kind), message, state, next_step and exit_code when outcome is failed"),
]


class OutcomeReport(Report):
    """A report of a run (apply, rollback, a deployment): its exit code comes from its outcome and error."""

    @property
    def exit_code(self) -> int:
        return outcome_exit_code(self.outcome, self.error)


class MigrationInfo(ReportPart):
    version: str
    name: str
    state: Literal["applied", "pending", "dirty", "missing-file", "edited"]
    format: str | None = None
    file: str | None = None
    applied_at: datetime | None = None
    duration_ms: int | None = None
    author: str | None = None
    checksum: str | None = None
    can_roll_back: bool = False
    status: str | None = None  # history status for dirty rows
    statements_done: int | None = None
    statements_total: int | None = None
    error: str | None = None
    no_statements: bool = False  # the file's UP has no statements (empty or comments only): recorded, runs nothing


class ExpandedMigration(ReportPart):
    """An online migration whose expand phase ran (status `expanded`): the contract phase waits for the application."""

    version: str
    name: str
    strategy: str | None = None
    app_must: list[str] = Field(default_factory=list, description="what the application must do before complete")
    complete: list[str] = Field(default_factory=list, description="the steps `db-migrate complete` will run")
    command: str


class BlueGreenStatus(ReportPart):
    """An environment's blue-green deployment, as `status` shows it (strategies/blue_green.py)."""

    active: Literal["blue", "green"]
    phase: str
    blue: str = Field(description="blue's URL, redacted")
    green: str = Field(description="green's URL, redacted")
    replicating: str | None = Field(None, description="blue -> green or green -> blue; None when stopped")
    lag_bytes: int | None = Field(None, description="how far the replica is behind now; None when not measured")
    events: list[str] = Field(default_factory=list, description="the deployment's last steps, oldest first")


class StatusReport(Report):
    environment: str
    database: str
    server_version: str
    current_version: str | None
    applied: list[MigrationInfo]
    blue_green: BlueGreenStatus | None = Field(
        None, description="a blue-green deployment: which side serves (active), both URLs redacted, replication lag"
    )
    pending: list[MigrationInfo]
    dirty: bool
    dirty_detail: str | None = None
    partly_restored: bool = Field(
        False,
        description="a restore into this database started and has not completed: "
        "its tables and history are incomplete (dirty_detail says what to run)",
    )
    versions_unknown: str | None = Field(
        None,
        description="why current_version is null and applied / pending are "
        "withheld: the history read is not reliable (partly restored)",
    )
    problems: list[str] = Field(default_factory=list, description="edited / missing / out-of-order files")
    leftover_copies: list[str] = Field(
        default_factory=list,
        description="scratch copies (*_mmtest_*) left by a killed `db-migrate test`; the next test drops them",
    )
    rollback_available: int = Field(0, description="applied migrations that have a DOWN, newest first, contiguous")
    waiting_for_complete: list[ExpandedMigration] = Field(
        default_factory=list,
        description="online migrations that are expanded: what the application must do, then `db-migrate complete`",
    )
    in_progress: bool = Field(False, description="a run is going on now: the dirty row's run still holds the lock")
    lock_holder: str | None = Field(None, description="who holds the migration lock while a run is in progress")
    maintenance_window: str | None = None
    window_open: bool | None = Field(
        None, description="None when the environment has no maintenance window (or it is not understood)"
    )
    next_action: str


class Check(ReportPart):
    name: str
    ok: bool
    warning: bool = False  # ok (nothing blocks) but not all is well, e.g. a migration with no DOWN: shown as ⚠
    detail: str = ""


class ValidateReport(Report):
    environment: str
    database: str
    ok: bool
    checks: list[Check]
    findings: list[Finding] = Field(default_factory=list, description="schema- and data-aware findings")

    @computed_field  # in --json and MCP output too
    @property
    def verdict(self) -> Literal["safe", "needs-review", "not-safe"]:
        """not-safe: a check failed or a finding is an error (apply refuses); needs-review: a danger finding
        (the apply fails or loses data as written, and asks for approval); safe: neither."""
        if not self.ok or any(f.severity == "error" for f in self.findings):
            return "not-safe"
        return "needs-review" if any(f.severity == "danger" for f in self.findings) else "safe"

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "safe" else 1  # a danger fails CI as analyze does


class StatementRun(BaseModel):
    index: int
    sql: str
    outside_transaction: bool = False
    status: Literal["planned", "done", "failed", "skipped"] = "planned"
    duration_ms: int | None = None
    error: str | None = None
    leftovers: list[str] = Field(
        default_factory=list, description="INVALID indexes a failed CREATE INDEX CONCURRENTLY left behind"
    )


class MigrationRun(BaseModel):
    version: str
    name: str
    direction: Literal["up", "down"]
    mode: Literal["transaction", "per-statement", "python"]
    mode_reason: str | None = Field(None, description="why the migration runs outside one transaction")
    statements: list[StatementRun]
    python_source: str | None = None
    script_source: str | None = Field(None, description="where the DOWN comes from: file or history")
    status: Literal["planned", "applied", "rolled-back", "failed"] = "planned"
    duration_ms: int | None = None
    lock_retries: int = 0
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    strategy: StrategyPlan | None = Field(
        None, description="the strategy per statement and why, and the phases it runs in (apply only)"
    )
    archives: list[ArchiveStep] = Field(
        default_factory=list,
        description="archive before destroy (rollback.archiveDestroyedData): what is "
        "(planned: will be) copied into an archive table before a destructive statement, restored after the "
        "statement that re-creates it, or cannot be archived by key",
    )

    @computed_field  # in --json and MCP output too: "archives N rows first"
    @property
    def archived_rows(self) -> int:
        """Rows this run archives first (exact once run, the table's estimate in a plan)."""
        return sum(
            (s.rows if s.rows is not None else s.rows_estimate or 0) for s in self.archives if s.action == "archive"
        )


class DataLoss(BaseModel):
    """Data one statement of a DOWN destroys, counted on the live tables before anything runs."""

    statement_index: int
    kind: Literal["drop_table", "truncate", "drop_column", "delete"]
    table: str
    column: str | None = None
    count: int | None = Field(None, description="rows (table, delete) or non-null values (column); None: not counted")
    exact: bool = Field(True, description="False: '~', a page sample or the catalog estimate")
    source: Literal["counted", "sampled", "catalog estimate", "new in this rollback", "not counted"] = "counted"
    text: str = Field(description="e.g. 'drops table user_preferences (3,456 rows)'")
    archived_into: str | None = Field(
        None,
        description="rollback.archiveDestroyedData: the archive table that keeps "
        "these values first (put back if the migration is applied again)",
    )


class RollbackStep(BaseModel):
    """One migration of a rollback plan: can it be undone, what its DOWN destroys, how long it may take."""

    version: str
    name: str
    can_roll_back: bool
    why: str = Field(description="where the DOWN comes from, or why there is none")
    destroys: list[DataLoss] = Field(default_factory=list)
    estimated_seconds: float | None = Field(None, description="sum of the per-statement estimates; None: unknown")
    estimate_basis: str = ""


class BackupPlan(BaseModel):
    """Whether the rollback backs up first (autoBackup), what, and about how big."""

    will_back_up: bool
    scope: Literal["whole", "tables"] | None = None
    tables: list[str] = Field(default_factory=list)
    estimated_bytes: int | None = Field(
        None, description="database (whole) or tables' size on disk; a dump is usually smaller"
    )
    why: str


class RollbackPlan(BaseModel):
    """What `rollback` will do, shown before approval and in --dry-run (also in --json and MCP)."""

    steps: list[RollbackStep]
    backup: BackupPlan
    estimated_seconds: float | None = Field(None, description="all steps together; None when any is unknown")
    estimate_note: str = (
        "estimated from this server's measured throughput and the tables' catalog sizes "
        "(analysis/impact); an estimate, not a promise"
    )
    emergency: bool = False
    notes: list[str] = Field(default_factory=list, description="what was skipped or could not be measured, and why")


class RunReport(OutcomeReport):
    """apply and rollback (also their dry runs)."""

    action: Literal["apply", "rollback", "resolve", "baseline", "complete"]
    environment: str
    database: str
    dry_run: bool = False
    plan_id: str = Field(description="hash of the exact plan; an approval is bound to it")
    outcome: Outcome
    lock_wait_ms: int = Field(0, description="how long this run waited for another run's migration lock")
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    maintenance_window: str | None = None
    window_open: bool | None = Field(None, description="None when the environment has no maintenance window")
    migrations: list[MigrationRun]
    version_before: str | None = None
    version_after: str | None = None
    backup_id: str | None = None
    failure_recovery: (
        Literal["transaction-rollback", "down-scripts", "backup-restore", "not-recovered", "resumable"] | None
    ) = Field(None, description="rollback.autoOnFailure: how the database was returned to its state before the command")
    findings: list[Finding] = Field(default_factory=list, description="data-aware findings; danger/error need approval")
    rollback_plan: RollbackPlan | None = Field(
        None,
        description="rollback: per migration, can it roll back, what its DOWN destroys, the backup, the estimated time",
    )
    message: str = ""
    error: RunError = None


class CreateReport(Report):
    version: str
    name: str
    path: str
    format: str


class HistoryEvent(ReportPart):
    id: int
    version: str
    name: str | None
    action: str
    outcome: str
    at: datetime
    duration_ms: int | None = None
    author: str | None = None
    statements_done: int | None = None
    detail: str | None = None


class HistoryReport(Report):
    environment: str
    database: str
    rows: list[MigrationInfo] = Field(description="the history table, oldest first")
    events: list[HistoryEvent] = Field(description="the append-only event log, newest first")


class CompareRow(ReportPart):
    version: str
    name: str
    states: dict[str, str]


class CompareReport(Report):
    environments: list[str]
    rows: list[CompareRow]
    summary: list[str]
    errors: dict[str, str] = Field(default_factory=dict)


# ---- deployments the tool drives around apply (strategies/offline.py, strategies/blue_green.py) ------------
class StrategyStep(ReportPart):
    """One step of a deployment the tool drives (offline: stop, snapshot, apply, validate, start)."""

    name: str
    ok: bool = True
    duration_ms: int = 0
    detail: str = ""


class OfflineReport(OutcomeReport):
    """apply with the offline strategy: the application stopped around backup, apply and validation."""

    action: Literal["offline"] = "offline"
    environment: str
    database: str
    outcome: Outcome = "done"
    plan_id: str = ""
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    steps: list[StrategyStep] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list, description="validation on the live database after the apply")
    apply: RunReport | None = Field(None, description="the apply inside the window (its dry run when nothing ran)")
    downtime_ms: int | None = Field(None, description="from the start of offline.stop to the end of offline.start")
    recovery: str | None = Field(None, description="how a failure after the stop was undone (rollback.autoOnFailure)")
    message: str = ""
    error: RunError = None


class TableCount(ReportPart):
    table: str
    blue: int
    green: int


class BlueGreenReport(OutcomeReport):
    """apply --strategy blue-green (prepare a migrated green), switch, switch --back and complete."""

    action: Literal["blue-green", "switch", "switch-back", "complete"]
    environment: str
    outcome: Outcome = "done"
    active: Literal["blue", "green"] | None = None
    blue: str = Field("", description="blue's URL, redacted")
    green: str = Field("", description="green's URL, redacted")
    plan_id: str = ""
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    steps: list[StrategyStep] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    apply: RunReport | None = None
    row_counts: list[TableCount] = Field(default_factory=list)
    lag_bytes: int | None = Field(None, description="replication lag when the report was made")
    ready_ms: int | None = Field(None, description="blue-green: from the start to a migrated, tested green")
    freeze_ms: int | None = Field(None, description="switch: writes refused, from the freeze to the flip")
    sessions_ended: list[str] = Field(default_factory=list, description="switch: sessions ended by the freeze")
    message: str = ""
    error: RunError = None


# ---- backups and restores (service/backups.py) --------------------------------------------
from .backup.manifest import Manifest  # noqa: E402 - kept beside the reports that use it


class BackupReport(Report):
    """backup create / list / prune."""

    action: Literal["create", "list", "prune"]
    environment: str | None = None
    backup_dir: str
    outcome: Literal["done", "needs-approval"] = "done"
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list, description="prune: why a human must approve it first")
    plan_id: str | None = Field(None, description="prune: an approval is bound to it")
    backups: list[Manifest] = Field(default_factory=list, description="created, listed, or deleted by prune")
    archives_dropped: list[ArchiveStep] = Field(
        default_factory=list, description="prune: archive tables never restored, older than rollback.keepBackups days"
    )
    message: str = ""

    @property
    def exit_code(self) -> int:
        return outcome_exit_code(self.outcome)


class RestoreReport(Report):
    """restore (and its plan, when approval is needed or for a point-in-time request)."""

    action: Literal["restore"] = "restore"
    environment: str
    database: str
    plan_id: str = Field(description="hash of backup + target; an approval is bound to it")
    outcome: Literal["dry-run", "done", "needs-approval", "failed", "manual-steps"]
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    backup: Manifest | None = None
    checksum_verified: bool = False
    into: bool = Field(False, description="restored into another (empty) database instead of the environment")
    version_before: str | None = None
    version_after: str | None = None
    duration_ms: int | None = None
    steps: list[str] = Field(default_factory=list, description="point-in-time restore: what must be done, in order")
    message: str = ""

    @property
    def exit_code(self) -> int:
        return outcome_exit_code(self.outcome)


# ---- db-migrate test: a rehearsal on a scratch copy ---------------------------------------
class TestStep(ReportPart):
    __test__ = False  # not a pytest test class
    name: str
    ok: bool
    duration_ms: int
    detail: str = ""


class TestedMigration(ReportPart):
    __test__ = False  # not a pytest test class
    version: str
    name: str
    apply_ms: int | None = None
    rollback_ms: int | None = None
    applied: bool = False
    rolled_back: bool = False
    error: str | None = None


class TableResult(ReportPart):
    table: str
    touched: bool = Field(description="named by a statement of the migrations tested")
    rows_before: int
    rows_after_apply: int | None = Field(None, description="None: the table no longer exists after apply")
    rows_after_rollback: int | None = None
    unchanged_after_apply: bool | None = Field(None, description="checksum equal after apply (untouched tables)")
    restored_after_rollback: bool | None = Field(None, description="checksum equal to the original after rollback")


class TestReport(Report):
    """db-migrate test: the pending migrations rehearsed on a scratch copy, with every step timed."""

    __test__ = False  # not a pytest test class
    environment: str
    database: str
    server_version: str
    copy_name: str | None = None
    copy_method: str | None = None
    version_before: str | None = None
    version_tested: str | None = Field(None, description="the version the copy reached")
    migrations: list[TestedMigration] = Field(default_factory=list)
    steps: list[TestStep] = Field(default_factory=list)
    tables: list[TableResult] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    schema_differences: list[str] = Field(default_factory=list, description="original vs after apply + rollback")
    notes: list[str] = Field(default_factory=list)
    copy_dropped: bool = False
    total_ms: int = 0
    outcome: Literal["passed", "failed", "nothing-to-do"] = "passed"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# ---- analyze (service/analyze.py) ---------------------------------------------------------
class AnalyzedStatement(ReportPart):
    index: int
    sql: str
    outside_transaction: bool = False
    operations: list[str] = Field(default_factory=list, description="what the statement does (operation kinds)")


class AnalyzedMigration(ReportPart):
    version: str
    name: str
    mode: Literal["transaction", "per-statement", "python"]
    statements: list[AnalyzedStatement]
    findings: list[Finding] = Field(default_factory=list)
    strategy: StrategyPlan | None = Field(None, description="the strategy per statement and why, and its phases")
    strategy_refused: str | None = Field(None, description="why the chosen strategy refuses this migration")


class AnalyzeReport(Report):
    """analyze: what the pending migrations would do to this database, before anything runs."""

    environment: str
    database: str
    server_version: str
    dialect: str
    migrations: list[AnalyzedMigration]
    impact: list[StatementImpact] = Field(
        default_factory=list,
        description="Performance Impact Report: per-statement lock, what it "
        "blocks, table size, estimated duration, extra disk, impact, advice",
    )
    summary: dict[str, int] = Field(default_factory=dict, description="findings by severity")
    needs_approval: bool = False
    approval_reasons: list[str] = Field(default_factory=list)
    next_action: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if self.summary.get("danger") or self.summary.get("error") else 0  # fails a CI job
