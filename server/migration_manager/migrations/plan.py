"""Compare migrations on disk with the history rows: what is applied, pending, edited, missing, dirty."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import HistoryConflict
from ..history import HistoryRow
from .formats import version_key
from .model import Migration


@dataclass
class Plan:
    migrations: list[Migration]
    rows: dict[str, HistoryRow]
    applied: list[HistoryRow] = field(default_factory=list)  # oldest first
    pending: list[Migration] = field(default_factory=list)
    dirty: list[HistoryRow] = field(default_factory=list)
    edited: list[tuple[Migration, HistoryRow]] = field(default_factory=list)
    missing: list[HistoryRow] = field(default_factory=list)  # applied, but no file on disk
    out_of_order: list[Migration] = field(default_factory=list)  # pending, older than the newest applied

    def __post_init__(self) -> None:
        # Built once: status and rollback look a file up per history row (10k rows must stay O(n)).
        self._by_key = {version_key(m.version): m for m in self.migrations}

    def file_for(self, version: str) -> Migration | None:
        return self._by_key.get(version_key(version))

    @property
    def current_version(self) -> str | None:
        return self.applied[-1].version if self.applied else None

    def refuse_conflicts(self, allow_out_of_order: bool = False) -> None:
        """Stop before anything runs when disk and history disagree."""
        if self.edited:
            names = ", ".join(m.path.name for m, _ in self.edited)
            raise HistoryConflict(
                f"Applied migration(s) changed on disk since they ran: {names} (checksum differs).",
                state="Nothing was run. The database has the version that was applied, not the edited one.",
                next_step="Restore the file from version control and put the change in a NEW migration. "
                "If the edit only reformatted the file on purpose, accept it with "
                "`db-migrate resolve VERSION --accept-checksum`.",
            )
        if self.missing:
            names = ", ".join(f"{r.version}_{r.name}" for r in self.missing)
            raise HistoryConflict(
                f"Applied migration(s) missing on disk: {names}.",
                state="Nothing was run.",
                next_step="Restore the file(s) from version control (you may be on an old branch), "
                "or run with --url/--env of the database you meant.",
            )
        if self.out_of_order and not allow_out_of_order:
            names = ", ".join(m.label for m in self.out_of_order)
            raise HistoryConflict(
                f"Pending migration(s) older than the current version {self.current_version}: {names}. "
                "They were probably created on a branch merged after newer migrations ran.",
                state="Nothing was run.",
                next_step="Check they do not conflict with the newer ones, then run again with "
                "--allow-out-of-order (or give them a newer version).",
            )


def make_plan(migrations: list[Migration], rows: dict[str, HistoryRow]) -> Plan:
    plan = Plan(migrations=migrations, rows=rows)
    by_key = {version_key(r.version): r for r in rows.values()}
    disk_keys = {version_key(m.version) for m in migrations}
    for row in sorted(rows.values(), key=lambda r: version_key(r.version)):
        (plan.applied if not row.dirty else plan.dirty).append(row)
        if version_key(row.version) not in disk_keys and not row.dirty:
            plan.missing.append(row)
    newest = max((version_key(r.version) for r in plan.applied), default=())
    for migration in migrations:
        row = by_key.get(version_key(migration.version))
        if row is None:
            plan.pending.append(migration)
            if version_key(migration.version) < newest:
                plan.out_of_order.append(migration)
        elif row.checksum != migration.checksum and row.status == "applied":
            plan.edited.append((migration, row))
    return plan
