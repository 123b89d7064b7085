"""Commands that only read the history (status, history, backup) never load the SQL parser."""

from __future__ import annotations

import subprocess
import sys


def printed_by(code: str) -> str:
    """What `code` prints in a new interpreter: nothing it did not import itself is loaded there."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_service_and_the_cli_load_without_sqlglot() -> None:
    code = (
        "import sys, migration_manager.surfaces.cli.app, migration_manager.surfaces.cli.render, migration_manager.service; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlglot', 'pglast')))"
    )
    assert printed_by(code) == "[]"


def test_the_cli_loads_neither_yaml_nor_pygments_until_used() -> None:
    """yaml is read only for a project with migration-manager.yaml, pygments only to show SQL: ~15 ms each at the
    start of every command otherwise (issue 11, apply speed)."""
    code = (
        "import sys, migration_manager.surfaces.cli.app, migration_manager.surfaces.cli.render, migration_manager.service, "
        "migration_manager.config; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'pygments')))"
    )
    assert printed_by(code) == "[]"


def test_an_operation_kind_is_defined_only_when_a_statement_of_it_is_read() -> None:
    """Each kind re-collects the 35 fields it inherits from Operation (pydantic, ~1 ms a class): a run defines the
    kinds it meets, not all 26 (issue 11, apply speed)."""
    code = (
        "import sys; from migration_manager.analysis.operations import statement_operations; "
        "statement_operations('CREATE TABLE t (id int)', 'postgres'); "
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('migration_manager.analysis.operations.')))"
    )
    assert printed_by(code) == "['create_table', 'parse']"


def test_the_parts_of_the_other_reports_are_not_built_at_import() -> None:
    """status', test's, analyze's... rows and steps are built when first made: an apply never makes them, and built
    them at import (~13 validators; issue 11, apply speed). A run's parts are built at import: every run makes them."""
    code = (
        "import migration_manager.surfaces.cli.app, migration_manager.surfaces.cli.render, migration_manager.service; "
        "from migration_manager import reports as r; "
        "print([m.__name__ for m in (r.MigrationInfo, r.Check, r.TestStep, r.AnalyzedMigration) if m.__pydantic_complete__]"
        ", r.MigrationRun.__pydantic_complete__)"
    )
    assert printed_by(code) == "[] True"
